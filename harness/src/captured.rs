//! Reading captured notification documents (`--notifications-file`): one
//! JSON document per line, a JSON array of them, or documents one after
//! another however they are laid out (pretty-printed, as the spec shows
//! them). Each comes with the line it starts on, for messages.

use serde_json::Value;

/// Every document of `text`, with the line it starts on, parsed or why not.
/// A document that is not JSON is reported, and reading goes on at the next
/// line that starts one (`{` or `[` in its first column).
pub fn documents(text: &str) -> Vec<(usize, Result<Value, String>)> {
    let lines = Lines::new(text);
    let start = text.len() - text.trim_start().len();
    if text[start..].starts_with('[') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => {
                let starts = element_starts(text, start);
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = starts.get(i).copied().unwrap_or(start);
                        (lines.of(at), Ok(item))
                    })
                    .collect()
            }
            Ok(other) => vec![(lines.of(start), Ok(other))],
            Err(e) => vec![(lines.of(start), Err(not_json(&e)))],
        };
    }
    let mut out = Vec::new();
    let mut at = start;
    while at < text.len() {
        let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(document)) => {
                out.push((lines.of(at), Ok(document)));
                at += stream.byte_offset();
            }
            Some(Err(e)) => {
                out.push((lines.of(at), Err(not_json(&e))));
                at = next_document(text, at);
            }
            None => break,
        }
        at += text[at..].len() - text[at..].trim_start().len();
    }
    out
}

/// What the reader says of a document that is not JSON.
fn not_json(e: &serde_json::Error) -> String {
    format!("not JSON ({e})")
}

/// Where the next line starting a document begins after `at`, or the end.
fn next_document(text: &str, at: usize) -> usize {
    let mut lines = text[at..].split_inclusive('\n');
    // The rest of the line the broken document starts on.
    let mut offset = at + lines.next().map_or(0, str::len);
    for line in lines {
        if line.starts_with('{') || line.starts_with('[') {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// The byte offsets where the elements of the array opening at `open` begin.
fn element_starts(text: &str, open: usize) -> Vec<usize> {
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut expecting) = (0usize, false, false, true);
    for (i, b) in text.bytes().enumerate().skip(open + 1) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if depth == 0 && expecting && b != b']' {
            starts.push(i);
            expecting = false;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => break,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => expecting = true,
            _ => {}
        }
    }
    starts
}

/// Line numbers of byte offsets.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Self(text.match_indices('\n').map(|(i, _)| i).collect())
    }

    /// The 1-based line of byte `offset`.
    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_and_ids(text: &str) -> Vec<(usize, Option<i64>)> {
        documents(text)
            .into_iter()
            .map(|(line, doc)| (line, doc.ok().and_then(|d| d["id"].as_i64())))
            .collect()
    }

    #[test]
    fn one_document_per_line() {
        assert_eq!(
            lines_and_ids("{\"id\": 1}\n\n{\"id\": 2}\n{not json\n{\"id\": 4}\n"),
            [(1, Some(1)), (3, Some(2)), (4, None), (5, Some(4))]
        );
    }

    #[test]
    fn pretty_printed_documents_one_after_another() {
        let text = "{\n  \"id\": 1,\n  \"value\": [\n    {}\n  ]\n}\n\n{\n  \"id\": 2\n}\n";
        assert_eq!(lines_and_ids(text), [(1, Some(1)), (8, Some(2))]);
    }

    #[test]
    fn a_json_array_of_documents() {
        let text = "[\n  {\"id\": 1, \"s\": \"a,]\\\"\"},\n  {\n    \"id\": 2\n  }\n]\n";
        assert_eq!(lines_and_ids(text), [(2, Some(1)), (3, Some(2))]);
    }

    #[test]
    fn a_broken_pretty_document_is_one_error_and_reading_goes_on() {
        let text = "{\n  \"id\": 1,\n  oops\n}\n{\n  \"id\": 2\n}\n";
        assert_eq!(lines_and_ids(text), [(1, None), (5, Some(2))]);
    }
}
