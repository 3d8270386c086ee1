//! Reading a case file safely: anyone can contribute one, so only a regular
//! file is opened (never a FIFO, which would block for ever, nor a device
//! such as `/dev/zero`, which never ends), and never more than
//! [`MAX_CASE_BYTES`] of it.

use std::io::Read as _;
use std::path::Path;

use crate::error::CaseError;

/// The largest case file read. The largest case of the suite is a few KiB; a
/// long value is written with `{{repeat:TEXT:N}}`, not spelled out.
pub const MAX_CASE_BYTES: u64 = 1 << 20;

/// What a path is when it is not a regular file, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Why `path` cannot be a case file without opening it (a symbolic link is
/// followed): it is not a regular file, or it is larger than the limit.
/// Reading its status never blocks, whatever it is.
pub fn problem(path: &Path) -> Option<CaseError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Some(CaseError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        }),
        Ok(meta) if meta.len() > MAX_CASE_BYTES => Some(CaseError::TooLarge {
            path: path.to_owned(),
            size: Some(meta.len()),
            limit: MAX_CASE_BYTES,
        }),
        Ok(_) => None,
        Err(source) => Some(CaseError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The text of the case file at `path`: a regular file of at most
/// [`MAX_CASE_BYTES`], in UTF-8.
pub fn read(path: &Path) -> Result<String, CaseError> {
    if let Some(problem) = problem(path) {
        return Err(problem);
    }
    let read_error = |source| CaseError::Read {
        path: path.to_owned(),
        source,
    };
    // Checked again on what was opened: the path may have been swapped in
    // between. (A FIFO swapped in before the open still blocks the open
    // itself; that takes someone who can write the folder as it is read.)
    let file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(CaseError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        });
    }
    // A size the file system reports is not trusted to stop the read: at
    // most one byte past the limit is read, whatever the file says.
    let mut bytes = Vec::new();
    file.take(MAX_CASE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CASE_BYTES {
        return Err(CaseError::TooLarge {
            path: path.to_owned(),
            size: None,
            limit: MAX_CASE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "case-file-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = temp("limits");
        let ok = dir.join("ok.json");
        std::fs::write(&ok, "{}").expect("written");
        assert_eq!(read(&ok).expect("read"), "{}");

        let big = dir.join("big.json");
        let file = std::fs::File::create(&big).expect("created");
        file.set_len(MAX_CASE_BYTES + 1).expect("sized");
        let err = read(&big).expect_err("too large").to_string();
        assert!(err.contains("1048576 bytes"), "{err}");

        let err = read(&dir).expect_err("a folder").to_string();
        assert!(err.contains("a folder"), "{err}");
        #[cfg(unix)]
        {
            let zero = dir.join("zero.json");
            std::os::unix::fs::symlink("/dev/zero", &zero).expect("linked");
            let err = read(&zero).expect_err("a device").to_string();
            assert!(err.contains("a character device"), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
