//! The files the operator names, read and written safely. An input is a regular file
//! (or a symlink to one) read whole up to a cap for its kind: a fifo, a device, a
//! socket or a folder is refused at once, never waited on or read without end. An
//! output is a regular file or a new path: a symlink is followed to the file it
//! names (the link stays), and a device, fifo or folder is refused, so saving by
//! rename never replaces something that is not a report.

use std::fs::{Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::text::{files as t, quoted, Text};

/// The most labrun reads of each kind of input.
pub mod cap {
    /// A step script, a class, course, policy, case, catalog or lock file, a roster.
    pub const TEXT: u64 = 4 << 20;
    /// A WebAssembly component.
    pub const COMPONENT: u64 = 128 << 20;
    /// A cassette (`--replay`, a case's).
    pub const CASSETTE: u64 = 256 << 20;
    /// A watch's `--state` file.
    pub const STATE: u64 = 64 << 20;
    /// A password file, an SSH key.
    pub const SECRET: u64 = 64 << 10;
}

/// The whole of the regular file at `path`, at most `cap` bytes. A fifo, device,
/// socket or folder is an error at once (`InvalidInput`), without being opened for
/// a read that could block; so is a file larger than `cap`.
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    // Looked at before it is opened: opening some devices has effects of its own.
    regular(&std::fs::metadata(path)?)?;
    // Non-blocking, in case it became a fifo since: the open returns at once.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    regular(&meta)?;
    if meta.len() > cap {
        return Err(too_large(cap));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, cap: u64) -> io::Result<String> {
    String::from_utf8(read(path, cap)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, Text::from(t::NotUtf8)))
}

/// [`read`] without blocking the async runtime.
pub async fn read_async(path: PathBuf, cap: u64) -> io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || read(&path, cap))
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
}

/// Ok for a regular file; the error names what it is instead.
fn regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        Text::from(t::NotRegularInput { kind: kind(meta) }),
    ))
}

/// What a file that is not a regular file is, in words.
fn kind(meta: &Metadata) -> Text {
    let kind = meta.file_type();
    if kind.is_dir() {
        t::KindFolder.into()
    } else if kind.is_fifo() {
        t::KindFifo.into()
    } else if kind.is_char_device() {
        t::KindCharDevice.into()
    } else if kind.is_block_device() {
        t::KindBlockDevice.into()
    } else if kind.is_socket() {
        t::KindSocket.into()
    } else {
        t::KindOther.into()
    }
}

fn too_large(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        Text::from(t::TooLarge { size: size(cap) }),
    )
}

/// `4 MiB`, `64 KiB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The most symlinks followed for one output (as the kernel's `ELOOP` limit).
const MAX_LINKS: usize = 40;

/// Where an output named `path` really goes: the path itself, or the end of its
/// chain of symlinks (a dangling link names a new file), as an absolute path. It is
/// a regular file or does not exist yet, and its folder exists; the error says why
/// not, in words for "cannot write FLAG PATH: …".
pub fn output_target(path: &Path) -> Result<PathBuf, Text> {
    let mut at = absolute(path)?;
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link =
                    std::fs::read_link(&at).map_err(|e| Text::from(t::Os { why: quoted(e) }))?;
                let dir = at.parent().unwrap_or(Path::new("/")).to_path_buf();
                at = normal(&dir.join(link));
            }
            Ok(meta) if meta.is_file() => return canonical_dir(&at),
            Ok(meta) if meta.is_dir() => return Err(t::IsAFolder.into()),
            Ok(meta) => return Err(t::NotRegular { kind: kind(&meta) }.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return canonical_dir(&at),
            Err(e) => return Err(t::Os { why: quoted(e) }.into()),
        }
    }
    Err(t::TooManyLinks { max: MAX_LINKS }.into())
}

/// `path` with its folder resolved (symlinks, `..`); the folder must exist.
fn canonical_dir(path: &Path) -> Result<PathBuf, Text> {
    let name = path.file_name().ok_or_else(|| Text::from(t::NoFileName))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    match std::fs::canonicalize(dir) {
        Ok(dir) if dir.is_dir() => Ok(dir.join(name)),
        Ok(dir) => Err(t::NotAFolder { dir }.into()),
        Err(_) => Err(t::NoFolder { dir }.into()),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Text> {
    if path.as_os_str().is_empty() {
        return Err(t::EmptyPath.into());
    }
    let cwd =
        std::env::current_dir().map_err(|e| Text::from(t::NoCurrentFolder { why: quoted(e) }))?;
    Ok(normal(&cwd.join(path)))
}

/// `a/./b/../c` → `a/c`, textually (the folder is resolved later).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether two paths name one file: the same device and inode when both exist (a
/// hard link or a symlink to it), else the same resolved path.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    match (output_target(a), output_target(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes `bytes` to the output `target` (from [`output_target`]) atomically: a
/// temporary file beside it, synced, then renamed over it.
pub fn replace(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with_mode(target, bytes, 0o666)
}

/// [`replace`] for a file only its owner may read (one holding a secret, such as the
/// trainee links' key in a state file): the new file is created 0600, never readable
/// by others even for a moment.
pub fn replace_private(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with_mode(target, bytes, 0o600)
}

fn replace_with_mode(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.labrun-tmp"));
    let written = (|| {
        let _ = std::fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("labrun-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn a_fifo_is_refused_at_once_and_a_large_file_at_its_cap() {
        let s = Scratch::new("read");
        let fifo = s.path("fifo");
        mkfifo(&fifo);
        let e = read(&fifo, cap::TEXT).unwrap_err().to_string();
        assert!(
            e.to_string()
                .contains("a fifo (named pipe), not a regular file"),
            "{e}"
        );
        let e = read(&s.0, cap::TEXT).unwrap_err().to_string();
        assert!(e.to_string().contains("a folder"), "{e}");
        let big = s.path("big");
        std::fs::write(&big, vec![b'x'; 2049]).unwrap();
        let e = read(&big, 2 << 10).unwrap_err().to_string();
        assert!(e.to_string().contains("larger than 2 KiB"), "{e}");
        assert_eq!(read(&big, 4 << 10).unwrap().len(), 2049);
        let link = s.path("link");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert_eq!(read(&link, 4 << 10).unwrap().len(), 2049);
        std::fs::write(s.path("bin"), [0xff, 0xfe]).unwrap();
        let e = read_to_string(&s.path("bin"), cap::TEXT)
            .unwrap_err()
            .to_string();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn outputs_follow_symlinks_and_refuse_what_is_not_a_file() {
        let s = Scratch::new("out");
        let real = s.path("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = s.path("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let target = output_target(&link).unwrap();
        assert!(same_file(&target, &real));
        replace(&target, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");

        let dangling = s.path("dangling");
        std::os::unix::fs::symlink("sub/../fresh.json", &dangling).unwrap();
        std::fs::create_dir(s.path("sub")).unwrap();
        assert_eq!(
            output_target(&dangling).unwrap(),
            std::fs::canonicalize(&s.0).unwrap().join("fresh.json")
        );

        let fifo = s.path("fifo");
        mkfifo(&fifo);
        let e = output_target(&fifo).unwrap_err().to_string();
        assert!(e.contains("a fifo"), "{e}");
        std::os::unix::fs::symlink(&fifo, s.path("to-fifo")).unwrap();
        assert!(output_target(&s.path("to-fifo"))
            .unwrap_err()
            .to_string()
            .contains("a fifo"));
        assert!(output_target(&s.0)
            .unwrap_err()
            .to_string()
            .contains("folder"));
        let e = output_target(&s.path("none/x.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        std::os::unix::fs::symlink("loop", s.path("loop")).unwrap();
        assert!(output_target(&s.path("loop"))
            .unwrap_err()
            .to_string()
            .contains("chain"));

        let hard = s.path("hard.json");
        std::fs::hard_link(&real, &hard).unwrap();
        assert!(same_file(&hard, &real));
        assert!(!same_file(&hard, &s.path("new.json")));
        assert!(same_file(&s.path("new.json"), &s.path("./sub/../new.json")));
    }
}
