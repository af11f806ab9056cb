//! Files written and read past the page cache (`O_DIRECT`) where the file system allows it: the
//! outputs, and the spills of an audit in shares.
//!
//! A buffered write copies every byte into page-cache pages the kernel takes afresh; where fresh
//! memory is dear (a VM whose host backs guest memory on first touch: PERF.md measures ~4 s of
//! system time per GB written here) that copy was most of writing the outputs. Written direct,
//! whole 4 KiB blocks go from an aligned buffer to the device; only the file's last partial block
//! is written through the page cache. A file system that refuses `O_DIRECT` (tmpfs, some network
//! file systems) gets ordinary buffered I/O, as does every file when `PRICEAUDIT_DIRECT_IO=0`.
//! The bytes are the same either way.

use std::alloc::{alloc, dealloc, Layout};
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;

/// The alignment of direct I/O's buffer, offsets and lengths (a page: every block size Linux's
/// file systems use divides it).
const ALIGN: usize = 4096;
/// The buffer: 1 MiB, a multiple of [`ALIGN`].
const CAP: usize = 1 << 20;

/// Whether direct I/O is tried at all (`PRICEAUDIT_DIRECT_IO=0` turns it off).
fn wanted() -> bool {
    std::env::var_os("PRICEAUDIT_DIRECT_IO").is_none_or(|v| v != "0")
}

/// A heap buffer of [`CAP`] bytes aligned to [`ALIGN`].
struct Aligned(NonNull<u8>);

// SAFETY: the buffer is owned memory with no shared state.
unsafe impl Send for Aligned {}

impl Aligned {
    fn layout() -> Layout {
        Layout::from_size_align(CAP, ALIGN).expect("a valid layout")
    }

    fn new() -> Aligned {
        // SAFETY: the layout has a non-zero size
        let p = unsafe { alloc(Self::layout()) };
        Aligned(NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout())))
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: CAP bytes allocated, exclusively borrowed; every byte is written before it is
        // read (the writers and readers track how many are filled)
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), CAP) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated by `new` with this layout
        unsafe { dealloc(self.0.as_ptr(), Self::layout()) }
    }
}

/// Opens `path` with `options` plus `O_DIRECT` when wanted, else (or if the file system refuses
/// it) without. Returns the file and whether it is direct.
fn open(options: &mut std::fs::OpenOptions, path: &Path, try_direct: bool) -> io::Result<(File, bool)> {
    if try_direct {
        match options.clone().custom_flags(libc::O_DIRECT).open(path) {
            Ok(f) => return Ok((f, true)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((options.open(path)?, false))
}

/// Clears `O_DIRECT` on `file`: what follows goes through the page cache.
fn buffered(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on an open descriptor we own, with integer arguments
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A file written through an aligned buffer, whole blocks direct (see the module's doc).
/// [`Write::flush`] writes everything held, the partial last block through the page cache (what is
/// written after a flush is buffered I/O).
pub struct DirectWriter {
    file: File,
    buf: Aligned,
    len: usize,
    direct: bool,
}

impl DirectWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<DirectWriter> {
        Self::create_with(path, wanted())
    }

    fn create_with(path: &Path, try_direct: bool) -> io::Result<DirectWriter> {
        let (file, direct) =
            open(std::fs::OpenOptions::new().write(true).create(true).truncate(true), path, try_direct)?;
        Ok(DirectWriter { file, buf: Aligned::new(), len: 0, direct })
    }

    /// Writes the buffer's whole blocks (every byte when not direct) and keeps the rest.
    fn drain(&mut self) -> io::Result<()> {
        let n = if self.direct { self.len / ALIGN * ALIGN } else { self.len };
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            match self.file.write(&self.buf.bytes()[done..n]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the file took no bytes")),
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // a file system that takes the flag at open but not the write (or a short write
                // leaving an unaligned offset): buffered from here, from where it stopped (a
                // failed write writes nothing)
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    buffered(&self.file)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        self.buf.bytes().copy_within(n..self.len, 0);
        self.len -= n;
        Ok(())
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == CAP {
            self.drain()?;
        }
        let n = data.len().min(CAP - self.len);
        let len = self.len;
        self.buf.bytes()[len..len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        if self.len > 0 {
            // the last partial block
            buffered(&self.file)?;
            self.direct = false;
            self.drain()?;
        }
        Ok(())
    }
}

impl Drop for DirectWriter {
    /// What is still held is written, as `BufWriter` does (errors ignored: call
    /// [`Write::flush`] to see them).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A file read through an aligned buffer, direct where the file system allows it.
pub struct DirectReader {
    file: File,
    buf: Aligned,
    pos: usize,
    len: usize,
}

impl DirectReader {
    pub fn open(path: &Path) -> io::Result<DirectReader> {
        Self::open_with(path, wanted())
    }

    fn open_with(path: &Path, try_direct: bool) -> io::Result<DirectReader> {
        let (file, _) = open(std::fs::OpenOptions::new().read(true), path, try_direct)?;
        Ok(DirectReader { file, buf: Aligned::new(), pos: 0, len: 0 })
    }
}

impl Read for DirectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(out.len());
            out[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for DirectReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            // whole buffers from aligned offsets: a direct read of the last block returns what
            // the file has
            let n = loop {
                match self.file.read(self.buf.bytes()) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => buffered(&self.file)?,
                    r => break r?,
                }
            };
            (self.pos, self.len) = (0, n);
        }
        let (pos, len) = (self.pos, self.len);
        Ok(&self.buf.bytes()[pos..len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of every length around the buffer's and the blocks' edges, written in pieces of
    /// uneven sizes, read back whole and equal; direct where the test's disk allows it, and not.
    #[test]
    fn writes_and_reads_back_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let lengths = [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, CAP - 1, CAP, CAP + 1, 2 * CAP + ALIGN + 7, 3 * CAP];
        for (i, (&len, direct)) in lengths.iter().flat_map(|l| [(l, true), (l, false)]).enumerate() {
            let data: Vec<u8> = (0..len).map(|j| (j * 31 + j / 7 + i) as u8).collect();
            let path = dir.path().join(format!("f{i}"));
            let mut w = DirectWriter::create_with(&path, direct).unwrap();
            let mut at = 0;
            for step in [1usize, 5000, 3, 1 << 20, 777].iter().cycle() {
                if at == len {
                    break;
                }
                let end = (at + step).min(len);
                w.write_all(&data[at..end]).unwrap();
                at = end;
            }
            w.flush().unwrap();
            drop(w);
            assert_eq!(std::fs::read(&path).unwrap(), data, "length {len}, direct {direct}");
            let mut back = Vec::new();
            let mut r = DirectReader::open_with(&path, direct).unwrap();
            let mut piece = vec![0u8; 1000];
            loop {
                let n = r.read(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&piece[..n]);
            }
            assert_eq!(back, data, "read back, length {len}, direct {direct}");
        }
    }

    /// A writer dropped without a flush still writes what it held.
    #[test]
    fn a_dropped_writer_writes_what_it_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..CAP + ALIGN + 3).map(|j| (j % 253) as u8).collect();
        let mut w = DirectWriter::create(&path).unwrap();
        w.write_all(&data).unwrap();
        drop(w);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    /// Writing after a flush appends (buffered), and the file is whole.
    #[test]
    fn writes_after_a_flush_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let first: Vec<u8> = (0..ALIGN * 3 + 10).map(|j| j as u8).collect();
        let second: Vec<u8> = (0..CAP + 5).map(|j| (j % 251) as u8).collect();
        let mut w = DirectWriter::create(&path).unwrap();
        w.write_all(&first).unwrap();
        w.flush().unwrap();
        w.write_all(&second).unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(std::fs::read(&path).unwrap(), [first, second].concat());
    }
}
