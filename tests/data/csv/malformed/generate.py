#!/usr/bin/env python3
"""Regenerate the malformed-CSV corpus (python3 generate.py). Each file's expected
handling is in docs/csv-formats.md and tests/users_malformed.rs."""
import os

here = os.path.dirname(os.path.abspath(__file__))
H = "FirstName,LastName,Username,Email"
OK1 = "Ada,Lovelace,ada,ada@example.com"
OK2 = "Alan,Turing,alan,alan@example.com"


def w(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


def lines(*ls, nl="\n"):
    return nl.join(ls) + nl


w("utf16le_bom.csv", "\ufeff".encode("utf-16-le") + lines(H, OK1).encode("utf-16-le"))
w("utf16be_bom.csv", "\ufeff".encode("utf-16-be") + lines(H, OK1).encode("utf-16-be"))
w("utf16le_nobom.csv", lines(H, OK1).encode("utf-16-le"))
w("cp1252_smart_quotes.csv", lines(H, "Zo\u00eb,\u201cQuoted\u201d,zoe,zoe@example.com").encode("cp1252"))
w("latin1.csv", lines(H, "Jos\u00e9,N\u00fa\u00f1ez,jose,jose@example.com").encode("latin-1"))
w("xlsx_renamed.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe" + b"\x00" * 40)
w("empty.csv", b"")
w("header_only.csv", lines(H))
w("blank_lines_only.csv", "\n\n\n")
w("semicolon.csv", lines("FirstName;LastName;Username;Email;company", "Ada;Lovelace;ada;ada@example.com;\"Example; Inc.\"", "Alan;Turing;alan;alan@example.com;"))
w("tab.csv", lines("FirstName\tLastName\tUsername\tEmail", "Ada\tLovelace\tada\tada@example.com", "Alan\tTuring\talan\talan@example.com"))
w("bom_crlf_excel.csv", b"\xef\xbb\xbf" + lines(H, OK1, OK2, nl="\r\n").encode())
w("unterminated_quote.csv", lines(H, "\"Ada,Lovelace,ada,ada@example.com", OK2))
w("newline_in_username.csv", lines(H, "Ada,Lovelace,\"ada\nlovelace\",ada@example.com"))
w("multiline_description.csv", lines(H + ",description", OK1 + ",\"first line\nsecond line, with a comma\"", OK2 + ","))
w("ragged_extra_field.csv", lines(H, OK1 + ",surplus", OK2))
w("ragged_short_rows.csv", lines(H + ",jobTitle,department", "Ada,Lovelace,ada,ada@example.com", "Alan,Turing,alan,alan@example.com,Engineer"))
w("duplicate_username.csv", lines(H, OK1, "Ada,Again,ADA,ada2@example.com"))
w("duplicate_email.csv", lines(H, OK1, "Ada,Again,ada2,Ada@Example.com"))
w("invalid_email.csv", lines(H, "Ada,Lovelace,ada,ada at example.com"))
w("no_username_column.csv", lines("FirstName,LastName,Email", "Ada,Lovelace,ada@example.com"))
w("export_missing_email_column.csv", lines("_id,username,state", "5c2e83b2bc6fe97784a8749b,ada,ACTIVATED"))
w("empty_username.csv", lines(H, OK1, "Alan,Turing,,alan@example.com"))
w("unknown_state.csv", lines("_id,username,email,state", "5c2e83b2bc6fe97784a8749b,ada,ada@example.com,DISABLED"))
w("bad_boolean.csv", lines(H + ",Administrator", OK1 + ",maybe"))
w("system_object.csv", lines(H + ",jobTitle", OK1 + ",System.Object[]"))
w("powershell_hashtable.csv", lines(H + ",department", OK1 + ",\"@{name=Eng; id=1}\""))
w("formula_injection.csv", lines(H, "\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",Lovelace,ada,ada@example.com"))
w("guarded_formula_prefix.csv", lines(H + ",mobile_number", "'=Ada,Lovelace,ada,ada@example.com,'+1 415-555-0100"))
w("enormous_value.csv", lines(H + ",jobTitle", OK1 + "," + "x" * 200_000))
w("nul_byte.csv", lines(H, "Ada\x00,Lovelace,ada,ada@example.com"))
w("duplicate_header.csv", lines("FirstName,LastName,Username,Email,Email", "Ada,Lovelace,ada,ada@example.com,other@example.com"))
w("headerless_legacy.csv", lines("Ada,Lovelace,ada,ada@example.com,5001,5001,t,Secret1!,host1"))
w("powershell_type_line.csv", lines("#TYPE System.Management.Automation.PSCustomObject", "\"FirstName\",\"LastName\",\"Username\",\"Email\"", "\"Ada\",\"Lovelace\",\"ada\",\"ada@example.com\""))
w("attribute_without_value.csv", lines(H + ",Attribute1_name,Attribute1_value", OK1 + ",badge,"))
w("unix_uid_out_of_range.csv", lines(H + ",unix_uid", OK1 + ",4294967296"))
w("entra_tab_leading_spaces.csv", lines("version:v1.0\t\t\t", "Name [displayName] Required\tUser name [userPrincipalName] Required\tInitial password [passwordProfile] Required\tBlock sign in (Yes/No) [accountEnabled] Required", " Ada Lovelace\t ada@example.com\t Secret-1\t no", "Alan Turing\talan@example.com\tSecret-2\tyes", nl="\r\n"))
w("manager_unknown.csv", lines(H + ",manager", OK1 + ",nobody.here"))
w("value_without_header.csv", lines("FirstName,LastName,Username,Email,", OK1 + ",stray"))
w("staged_user_skipped.csv", lines("_id,username,email,state", "5c2e83b2bc6fe97784a8749b,ada,ada@example.com,ACTIVATED", "5c2e83b2bc6fe97784a8749c,alan,alan@example.com,STAGED"))
w("space_in_username.csv", lines(H, "Ada,Lovelace,ada lovelace,ada@example.com"))
w("password_column.csv", lines(H + ",Password", OK1 + ",Hunter2-Secret!"))
