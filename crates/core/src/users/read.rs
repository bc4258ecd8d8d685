//! Robust CSV reading: encoding checks (UTF-8 with or without BOM; UTF-16 and
//! Windows-1252/Latin-1 are refused with the conversion to run), preamble lines
//! (`version:v1.0` from Entra, `#TYPE …` from PowerShell 5.1), delimiter
//! sniffing among `,` `;` TAB, RFC 4180 quoting with embedded newlines, and
//! every record tagged with the physical line it starts on.

use crate::error::{Error, Result};

/// A problem found in the file, reported as `FILE:LINE:COLUMN: message`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diag {
    pub line: usize,
    /// 1-based field number as a spreadsheet counts columns; 0 = the whole row.
    pub column: usize,
    pub message: String,
    /// `false` for warnings (reported, not blocking).
    pub error: bool,
}

impl Diag {
    pub fn error(line: usize, column: usize, message: impl Into<String>) -> Diag {
        Diag {
            line,
            column,
            message: message.into(),
            error: true,
        }
    }
    pub fn warning(line: usize, column: usize, message: impl Into<String>) -> Diag {
        Diag {
            line,
            column,
            message: message.into(),
            error: false,
        }
    }
    /// `FILE:LINE:COLUMN: message` (`warning: ` prefixed for warnings).
    pub fn render(&self, file: &str) -> String {
        let col = if self.column == 0 { 1 } else { self.column };
        let sev = if self.error { "" } else { "warning: " };
        format!("{file}:{}:{col}: {sev}{}", self.line, self.message)
    }
}

/// One data record with the line it starts on.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub line: usize,
    pub fields: csv::StringRecord,
}

/// A parsed file: header, records, and what was learnt on the way.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub header: Vec<String>,
    pub header_line: usize,
    pub records: Vec<RawRecord>,
    pub delimiter: u8,
    /// The Entra `version:v1.0` line, when present.
    pub version_line: Option<String>,
    pub had_bom: bool,
}

/// UTF-32, with a byte order mark (FF FE 00 00 / 00 00 FE FF) or without one
/// (three NULs beside every ASCII byte); checked before UTF-16, whose LE mark
/// a UTF-32 LE mark starts with.
fn utf32(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) {
        return Some("UTF-32 LE (it starts with a UTF-32 byte order mark)");
    }
    if bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Some("UTF-32 BE (it starts with a UTF-32 byte order mark)");
    }
    let sample = &bytes[..bytes.len().min(512) / 4 * 4];
    if sample.len() < 8 {
        return None;
    }
    // Every 4-byte unit has its only non-NUL byte at position `i`.
    let ascii_at = |i: usize| {
        sample
            .chunks_exact(4)
            .all(|u| u.iter().enumerate().all(|(j, b)| j == i || *b == 0))
    };
    if ascii_at(0) {
        Some("UTF-32 LE without a byte order mark")
    } else if ascii_at(3) {
        Some("UTF-32 BE without a byte order mark")
    } else {
        None
    }
}

/// Decode bytes to text, refusing anything that is not UTF-8 with a message
/// naming the encoding to convert from.
pub fn decode(bytes: &[u8], file: &str) -> Result<(String, bool)> {
    if let Some(enc) = utf32(bytes) {
        return Err(Error::input(format!(
            "{file}:1:1: the file is {enc}, not UTF-8: convert it with `iconv -f {} -t UTF-8 {file} > users-utf8.csv`",
            enc.split(' ').take(2).collect::<String>()
        )));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let enc = if bytes[0] == 0xFF {
            "UTF-16 LE"
        } else {
            "UTF-16 BE"
        };
        return Err(Error::input(format!(
            "{file}:1:1: the file is {enc} (it starts with a UTF-16 byte order mark), not UTF-8: convert it with `iconv -f UTF-16 -t UTF-8 {file} > users-utf8.csv`, or in Excel save as \"CSV UTF-8 (Comma delimited)\""
        )));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(Error::input(format!(
            "{file}:1:1: this is a zip file (probably an Excel .xlsx workbook), not a CSV: in Excel use Save As \"CSV UTF-8 (Comma delimited)\""
        )));
    }
    // UTF-16 without a BOM: every other byte is NUL in the ASCII range.
    let sample = &bytes[..bytes.len().min(512)];
    let nuls = sample.iter().filter(|b| **b == 0).count();
    if sample.len() >= 4 && nuls * 3 >= sample.len() {
        let enc = if sample[0] == 0 {
            "UTF-16 BE"
        } else {
            "UTF-16 LE"
        };
        return Err(Error::input(format!(
            "{file}:1:1: the file looks like {enc} without a byte order mark (every other byte is NUL), not UTF-8: convert it with `iconv -f {} -t UTF-8 {file} > users-utf8.csv`",
            enc.replace(' ', "")
        )));
    }
    let (body, had_bom) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    match std::str::from_utf8(body) {
        Ok(s) => {
            if let Some(pos) = s.find('\0') {
                let (line, col) = line_col(s, pos);
                return Err(Error::input(format!(
                    "{file}:{line}:{col}: the file contains a NUL byte: it is binary or a spreadsheet (.xlsx), not a CSV text file"
                )));
            }
            Ok((s.to_string(), had_bom))
        }
        Err(e) => {
            let pos = e.valid_up_to();
            let valid = std::str::from_utf8(&body[..pos]).unwrap_or("");
            let (line, col) = line_col(valid, pos);
            let bad = body[pos];
            let cp1252_only = body.iter().any(|b| (0x80..=0x9F).contains(b));
            let enc = if cp1252_only {
                "Windows-1252"
            } else {
                "Windows-1252 or Latin-1 (ISO-8859-1)"
            };
            Err(Error::input(format!(
                "{file}:{line}:{col}: the file is not UTF-8 (byte 0x{bad:02X} cannot start a UTF-8 character); it looks like {enc}, what Excel's plain \"CSV (Comma delimited)\" writes: convert it with `iconv -f WINDOWS-1252 -t UTF-8 {file} > users-utf8.csv`, or save as \"CSV UTF-8\""
            )))
        }
    }
}

fn line_col(text_before: &str, byte_pos: usize) -> (usize, usize) {
    let upto = &text_before[..byte_pos.min(text_before.len())];
    let line = upto.matches('\n').count() + 1;
    let col = upto
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Guess the delimiter from the header line: the most frequent of `,` `;` TAB
/// outside quotes (ties go to the comma).
pub fn sniff_delimiter(header_line: &str) -> u8 {
    let (mut comma, mut semi, mut tab) = (0, 0, 0);
    let mut in_q = false;
    for c in header_line.chars() {
        match c {
            '"' => in_q = !in_q,
            ',' if !in_q => comma += 1,
            ';' if !in_q => semi += 1,
            '\t' if !in_q => tab += 1,
            _ => {}
        }
    }
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma {
        b';'
    } else {
        b','
    }
}

/// Check RFC 4180 quoting by hand: the csv crate ends an unterminated quoted
/// field silently at end of file, which would swallow the rest of the file.
fn check_quotes(text: &str, delim: u8, first_line: usize) -> Option<Diag> {
    let bytes = text.as_bytes();
    let mut line = first_line;
    let mut field_start = true;
    let mut in_q = false;
    let mut open_line = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_q {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                in_q = false;
            } else if b == b'\n' {
                line += 1;
            }
        } else if b == b'"' && field_start {
            in_q = true;
            open_line = line;
        } else if b == b'\n' {
            line += 1;
        }
        field_start = !in_q && (b == delim || b == b'\n' || b == b'\r');
        i += 1;
    }
    in_q.then(|| {
        Diag::error(
            open_line,
            0,
            "a quoted field opened on this line is never closed (a missing `\"`): everything after it would be read as one value",
        )
    })
}

/// Parse decoded text into a header and records.
pub fn parse(text: &str, file: &str, had_bom: bool) -> Result<(RawTable, Vec<Diag>)> {
    let mut diags = Vec::new();
    let mut rest = text;
    let mut line_no = 1usize;
    let mut version_line = None;
    // Preamble lines: PowerShell's `#TYPE`, Entra's `version:v1.0[,,,]`, blank lines.
    loop {
        let (first, after) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let t = first.trim_end_matches('\r').trim();
        let bare = t.trim_end_matches([',', ';', '\t']).trim_matches('"');
        if t.starts_with("#TYPE") || t.starts_with("#type") {
            diags.push(Diag::warning(
                line_no,
                1,
                "skipped PowerShell's `#TYPE` line (Export-Csv without -NoTypeInformation)",
            ));
        } else if bare.to_ascii_lowercase().starts_with("version:") {
            version_line = Some(bare.to_string());
        } else if t.is_empty() && !after.is_empty() {
            // leading blank line
        } else {
            break;
        }
        rest = after;
        line_no += 1;
    }
    if rest.trim().is_empty() {
        return Err(Error::input(format!(
            "{file}:{line_no}:1: the file has no header row{}",
            if version_line.is_some() {
                " after the `version:` line"
            } else {
                " (it is empty)"
            }
        )));
    }
    let header_text = rest.split('\n').next().unwrap_or("");
    let delimiter = sniff_delimiter(header_text);
    if let Some(d) = check_quotes(rest, delimiter, line_no) {
        return Err(Error::input(d.render(file)));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(rest.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut header_line = line_no;
    let mut records = Vec::new();
    let mut rec = csv::StringRecord::new();
    // Lines from byte offsets: csv's own line counter is off by one after CRLF.
    let newlines: Vec<usize> = rest
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let rb = rest.as_bytes();
    let line_at = |byte: usize| {
        let mut b = byte;
        while b < rb.len() && (rb[b] == b'\n' || rb[b] == b'\r') {
            b += 1;
        }
        newlines.partition_point(|&n| n < b) + line_no
    };
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec
                    .position()
                    .map(|p| line_at(p.byte() as usize))
                    .unwrap_or(line_no);
                if header.is_none() {
                    header_line = line;
                    header = Some(rec.iter().map(str::to_string).collect());
                    continue;
                }
                // Entirely empty lines (no fields, or one empty field) are skipped.
                if rec.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                records.push(RawRecord {
                    line,
                    fields: std::mem::take(&mut rec),
                });
            }
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| line_at(p.byte() as usize))
                    .unwrap_or(line_no);
                return Err(Error::input(format!(
                    "{file}:{line}:1: unreadable CSV: {e}"
                )));
            }
        }
    }
    let header = header.unwrap_or_default();
    if delimiter != b',' {
        diags.push(Diag::warning(
            header_line,
            1,
            format!(
                "the delimiter is {} (detected from the header row)",
                if delimiter == b'\t' { "TAB" } else { "`;`" }
            ),
        ));
    }
    Ok((
        RawTable {
            header,
            header_line,
            records,
            delimiter,
            version_line,
            had_bom,
        },
        diags,
    ))
}

/// Read and parse a file from disk.
pub fn read_file(path: &std::path::Path) -> Result<(RawTable, Vec<Diag>)> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io_at(path, e))?;
    if bytes.is_empty() {
        return Err(Error::input(format!("{file}:1:1: the file is empty")));
    }
    let (text, bom) = decode(&bytes, &file)?;
    parse(&text, &file, bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("a,b,c"), b',');
        assert_eq!(sniff_delimiter("a;b;c"), b';');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c"), b',');
    }

    #[test]
    fn lines_follow_embedded_newlines_and_preambles() {
        for nl in ["\n", "\r\n"] {
            let text = format!("version:v1.0,,{nl}A,B{nl}\"x\ny\",1{nl}z,2{nl}{nl}w,3{nl}");
            let (t, _) = parse(&text, "f", false).unwrap();
            assert_eq!(t.version_line.as_deref(), Some("version:v1.0"));
            assert_eq!(t.header_line, 2);
            assert_eq!(t.records[0].line, 3);
            assert_eq!(t.records[1].line, 5);
            assert_eq!(t.records[2].line, 7);
        }
    }

    #[test]
    fn utf32_is_named_utf32_not_utf16() {
        let le: Vec<u8> = "\u{feff}userName\nada\n"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let be: Vec<u8> = "userName\nada\n"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        let e = decode(&le, "f.csv").unwrap_err().message;
        assert!(
            e.contains("UTF-32 LE") && e.contains("iconv -f UTF-32LE"),
            "{e}"
        );
        let e = decode(&be, "f.csv").unwrap_err().message;
        assert!(e.contains("UTF-32 BE without a byte order mark"), "{e}");
        let e = decode(&le[4..], "f.csv").unwrap_err().message;
        assert!(e.contains("UTF-32 LE without"), "{e}");
        // UTF-16 is still UTF-16.
        let e = decode(b"\xFF\xFEu\0s\0e\0r\0", "f.csv")
            .unwrap_err()
            .message;
        assert!(e.contains("UTF-16 LE"), "{e}");
    }

    #[test]
    fn refuses_other_encodings() {
        let e = decode(b"\xFF\xFEa\0b\0", "f.csv").unwrap_err();
        assert!(e.message.contains("UTF-16 LE"), "{}", e.message);
        let e = decode(b"Name\nJos\xE9\n", "f.csv").unwrap_err();
        assert!(
            e.message.contains("f.csv:2:4") && e.message.contains("Latin-1"),
            "{}",
            e.message
        );
        let e = decode(b"Name\nJos\x93e\x94\n", "f.csv").unwrap_err();
        assert!(e.message.contains("Windows-1252"), "{}", e.message);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let e = parse("a,b\n1,\"open\n2,3\n", "f", false).unwrap_err();
        assert!(e.message.starts_with("f:2:1:"), "{}", e.message);
    }
}
