//! The tar archive of an OCI image layout, and writing it out. The same
//! files always give the same bytes: entries in the order given, each
//! directory just before its first file, and every header's owner, mode
//! and time fixed, so that an image can be rebuilt and compared.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The mode of every file in the archive.
const FILE_MODE: u32 = 0o644;

/// The mode of every directory in the archive.
const DIRECTORY_MODE: u32 = 0o755;

/// A tar archive of `files` (paths relative to the layout's root, with
/// `/` between components), in that order.
pub fn tar_archive(files: &[(String, &[u8])]) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut directories: Vec<String> = Vec::new();
    for (path, contents) in files {
        let mut parent = String::new();
        for component in path.split('/').collect::<Vec<_>>().split_last().map_or(&[][..], |(_, dirs)| dirs) {
            parent.push_str(component);
            parent.push('/');
            if !directories.contains(&parent) {
                builder.append(&header(&parent, tar::EntryType::Directory, 0)?, io::empty())?;
                directories.push(parent.clone());
            }
        }
        builder.append(&header(path, tar::EntryType::Regular, contents.len() as u64)?, *contents)?;
    }
    builder.into_inner()
}

/// A ustar header owned by root, dated 0 (1970), with the fixed mode of
/// its kind.
fn header(path: &str, kind: tar::EntryType, size: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind.is_dir() { DIRECTORY_MODE } else { FILE_MODE });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    Ok(header)
}

/// Writes `contents` to `output` through a temporary file beside it, so
/// that `output` is never seen half-written and nothing is left behind on
/// error. An existing `output` is replaced only when `force` is set.
pub fn write_output(output: &Path, contents: &[u8], force: bool) -> Result<()> {
    if output.is_dir() {
        bail!("{} is a directory; -o names the archive to write", output.display());
    }
    if !force && output.symlink_metadata().is_ok() {
        bail!("{} exists; pass --force to replace it", output.display());
    }
    let temp = temp_path(output)?;
    let written = write_new(&temp, contents)
        .with_context(|| format!("cannot write {}", output.display()))
        .and_then(|()| move_into_place(&temp, output, force));
    // After a hard link, the temporary name is left to remove even on success.
    let _ = fs::remove_file(&temp);
    written
}

/// `.NAME.kiln-oci-PID` in the directory of `output`.
fn temp_path(output: &Path) -> Result<PathBuf> {
    let dir = match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = output.file_name().with_context(|| format!("{} names no file", output.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".kiln-oci-{}", std::process::id()));
    Ok(dir.join(temp_name))
}

fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Gives the written `temp` the name `output`. Without `force` a hard link
/// does it, which fails rather than replace a file that appeared since
/// `output` was checked; a file system without hard links gets a rename.
fn move_into_place(temp: &Path, output: &Path, force: bool) -> Result<()> {
    if !force {
        match fs::hard_link(temp, output) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                bail!("{} exists; pass --force to replace it", output.display())
            }
            Err(_) => {}
        }
    }
    fs::rename(temp, output).with_context(|| format!("cannot write {}", output.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_list_directories_before_their_files_with_fixed_headers() {
        let files = [("oci-layout".to_string(), &b"{}"[..]), ("blobs/sha256/ab".to_string(), &b"x"[..])];
        let bytes = tar_archive(&files).unwrap();
        assert_eq!(bytes, tar_archive(&files).unwrap());
        let mut archive = tar::Archive::new(&bytes[..]);
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
                (e.path().unwrap().to_string_lossy().into_owned(), h.mode().unwrap(), h.mtime().unwrap())
            })
            .collect();
        let expected = [("oci-layout", 0o644), ("blobs/", 0o755), ("blobs/sha256/", 0o755), ("blobs/sha256/ab", 0o644)];
        let expected: Vec<(String, u32, u64)> = expected.iter().map(|(p, m)| (p.to_string(), *m, 0)).collect();
        assert_eq!(entries, expected);
    }
}
