//! Writing output files whole or not at all.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and then
/// renamed over `path`, so a reader never sees a half-written file and a failure leaves any
/// previous file in place.
///
/// The file gets the permissions of an ordinary new file (0644 on Unix) rather than the
/// owner-only mode of temporary files. Every fastburn output (pictures, tables, reports,
/// saved and exported models) is written this way.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // The temporary file must be on the same file system as `path` for the rename to be atomic.
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };

    let mut builder = tempfile::Builder::new();
    builder.prefix(".fastburn-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut file = builder.tempfile_in(folder).map_err(without_path)?;

    file.write_all(bytes).map_err(without_path)?;
    file.as_file().sync_all().map_err(without_path)?;
    file.persist(path)
        .map_err(|error| without_path(error.error))?;
    Ok(())
}

/// Drops the temporary file's random name that `tempfile` adds to an error's message, so the
/// caller's message names only the file the user asked for.
fn without_path(error: io::Error) -> io::Error {
    // tempfile 3 formats its errors as "<cause> at path <temporary file>" and hides the cause
    // from `source()`, so the cause is cut from the message.
    let message = error.to_string();
    match message.split_once(" at path ") {
        Some((cause, _)) => io::Error::new(error.kind(), cause.to_owned()),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();

        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"x").unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn missing_folder_fails_without_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/out.txt");
        let error = write_atomic(&path, b"x").unwrap_err();
        assert!(!path.exists());
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(!error.to_string().contains(".fastburn-"), "{error}");
    }
}
