//! CSV-aware mutations: rows repeated, dropped or swapped; a cell replaced by
//! a hostile value or quoted badly; the delimiter, line endings or encoding
//! changed (UTF-8 BOM, UTF-16 with and without BOM, Latin-1 bytes), as
//! spreadsheets and PowerShell exports do to real files.

use crate::mutate::{HOSTILE_STRINGS, Rng, mutate_bytes};

pub fn mutate_csv(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(input) else {
        return mutate_bytes(rng, input, corpus, max_len);
    };
    if rng.one_in(6) {
        return mutate_bytes(rng, input, corpus, max_len);
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let i = rng.below(lines.len());
    let mut out: Vec<u8> = match rng.below(10) {
        0 => {
            let copy = lines[i].clone();
            for _ in 0..(1 + rng.below(30)) {
                lines.insert(i, copy.clone());
            }
            lines.join("\n").into_bytes()
        }
        1 if lines.len() > 1 => {
            lines.remove(i);
            lines.join("\n").into_bytes()
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
            lines.join("\n").into_bytes()
        }
        3 => {
            let delim = *rng.pick(&[",", ";", "\t", "|"]);
            let other = *rng.pick(&[",", ";", "\t", "|", ",,", ""]);
            lines[i] = lines[i].replace(delim, other);
            lines.join("\n").into_bytes()
        }
        4 => lines.join("\r\n").into_bytes(),
        5 => {
            // Re-encode: what Excel and PowerShell write.
            let joined = lines.join("\n");
            match rng.below(4) {
                0 => [&[0xEF, 0xBB, 0xBF][..], joined.as_bytes()].concat(),
                1 => {
                    let mut v = vec![0xFF, 0xFE];
                    v.extend(joined.encode_utf16().flat_map(u16::to_le_bytes));
                    v
                }
                2 => joined.encode_utf16().flat_map(u16::to_be_bytes).collect(),
                _ => joined
                    .chars()
                    .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
                    .collect(),
            }
        }
        _ => {
            // One cell of one row.
            let delim = if lines[i].contains(';') && !lines[i].contains(',') {
                ';'
            } else {
                ','
            };
            let mut cells: Vec<String> = lines[i].split(delim).map(str::to_string).collect();
            let c = rng.below(cells.len());
            let hostile = rng.pick(HOSTILE_STRINGS).to_string();
            cells[c] = match rng.below(5) {
                0 => hostile,
                1 => format!("\"{}{hostile}\"", cells[c].trim_matches('"')),
                2 => format!("{}{hostile}", cells[c]),
                3 => format!("\"{}", cells[c]),
                _ => "x".repeat(1 << rng.below(16)),
            };
            lines[i] = cells.join(&delim.to_string());
            lines.join("\n").into_bytes()
        }
    };
    out.truncate(max_len);
    out
}
