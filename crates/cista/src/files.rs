//! Writing files safely: private files are created with mode 0600 from the start (never
//! widened then narrowed), and every file is written to a temporary name and renamed into place
//! so a crash never leaves half a key or certificate.

use std::io::Write as _;
use std::path::Path;

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        // Nothing is left behind: the bytes were for `path` only.
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// Opens a new file readable by the owner only, for bytes written as they come (an export
/// streamed to a `.part` name, renamed when whole). An existing file is replaced.
pub async fn create_private(path: &Path) -> Result<tokio::fs::File, String> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options
        .open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A secret: readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_with_mode(path, bytes, 0o600)
}

/// A public file (a certificate).
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_with_mode(path, bytes, 0o644)
}

/// Creates a directory readable by the owner only (the data directory).
pub fn create_private_dir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The most bytes a definition file (`assessment import`, `record-form import`) may hold: a
/// form of hundreds of questions is tens of kilobytes.
pub const DEFINITION_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a JSON file of at most `max_bytes` (refused by its size before it is read, so a
/// wrong file cannot fill the memory), as UTF-8 with or without the byte order mark editors
/// on Windows write.
pub fn read_json_file(path: &Path, max_bytes: u64) -> Result<serde_json::Value, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{} could not be read: {e}", path.display()))?
        .len();
    if size > max_bytes {
        return Err(format!(
            "{} holds {size} bytes; a definition holds at most {max_bytes}",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{} could not be read: {e}", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}
