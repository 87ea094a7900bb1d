//! A tiny static HTTP/1.1 file server for the built book.
//!
//! It binds `127.0.0.1:0`, serves files below one directory with the right
//! content type, answers 404 for anything missing and refuses any path that
//! would leave the directory. One thread accepts, one short-lived thread per
//! connection answers; every connection is closed after one response, which
//! keeps the code small and is plenty for a browser loading a book page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A running server; stops and joins its thread on drop.
pub(crate) struct StaticServer {
    addr: SocketAddr,
    prefix: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` on a free loopback port, below the URL path `prefix`
    /// (`/` or `/some/path/`, as a book's `site-url`).
    pub(crate) fn start(root: &Path, prefix: &str) -> anyhow::Result<Self> {
        let prefix = normalize_prefix(prefix);
        let root = root
            .canonicalize()
            .with_context(|| format!("book directory {} not found", root.display()))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let prefix2 = prefix.clone();
        let thread = std::thread::Builder::new()
            .name("book-server".into())
            .spawn(move || accept_loop(&listener, &root, &prefix2, &stop2))
            .context("spawning the server thread")?;
        Ok(Self {
            addr,
            prefix,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, the origin.
    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the book's root is: the origin and the prefix, ending in `/`.
    pub(crate) fn book_url(&self) -> String {
        format!("{}{}", self.origin(), self.prefix)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `""`, `"/"`, `"/a/b"` and `"/a/b/"` become `"/"`, `"/"`, `"/a/b/"`.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

fn accept_loop(listener: &TcpListener, root: &Path, prefix: &str, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let root = root.to_path_buf();
        let prefix = prefix.to_owned();
        // A failed spawn only loses this one connection.
        let _ = std::thread::Builder::new()
            .name("book-conn".into())
            .spawn(move || {
                let _ = handle(stream, &root, &prefix);
            });
    }
}

fn handle(stream: TcpStream, root: &Path, prefix: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    // Read the request head line by line until the blank line.
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take((MAX_HEAD - head.len().min(MAX_HEAD)) as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" || head.len() > MAX_HEAD {
            break;
        }
    }
    let response = respond(&head, root, prefix);
    let mut stream = stream;
    stream.write_all(&response)?;
    stream.flush()
}

/// Builds the whole response (head and body) for one request head.
pub(crate) fn respond(head: &[u8], root: &Path, prefix: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut parts = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") => (m, t),
        _ => return simple(400, "Bad Request"),
    };
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return simple(405, "Method Not Allowed"),
    };
    let Some(below) = target.strip_prefix(prefix.trim_end_matches('/')) else {
        return simple(404, "Not Found");
    };
    let Some(mut path) = resolve(root, below) else {
        return simple(404, "Not Found");
    };
    if path.is_dir() {
        path.push("index.html");
    }
    match std::fs::read(&path) {
        Ok(body) => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&path),
                body.len()
            )
            .into_bytes();
            if !head_only {
                out.extend_from_slice(&body);
            }
            out
        }
        Err(_) => simple(404, "Not Found"),
    }
}

fn simple(code: u16, reason: &str) -> Vec<u8> {
    let body = format!("{code} {reason}\n");
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Maps a request target to a file below `root`, or `None` when it would
/// escape `root` (any `..`, absolute or drive component, NUL or backslash).
pub(crate) fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for segment in decoded.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment == ".." || segment.contains(['\\', '\0']) {
            return None;
        }
        let mut components = Path::new(segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(c)), None) => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: &str, target: &str) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(buf[..split].to_vec()).unwrap();
        (head, buf[split + 4..].to_vec())
    }

    fn fixture() -> (crate::browser::TempDir, PathBuf) {
        let tmp = crate::browser::TempDir::new("ul-server-test").unwrap();
        let root = tmp.path().join("book");
        std::fs::create_dir_all(root.join("part-1")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
        std::fs::write(root.join("part-1/a b.html"), "spaced").unwrap();
        std::fs::write(root.join("plot.svg"), "<svg/>").unwrap();
        std::fs::write(root.join("font.woff2"), [0u8, 1, 2]).unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
        (tmp, root)
    }

    #[test]
    fn serves_files_with_content_types() {
        let (_tmp, root) = fixture();
        let server = StaticServer::start(&root, "/").unwrap();
        let addr = server.addr.to_string();

        let (head, body) = get(&addr, "/");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Content-Type: text/html"), "{head}");
        assert_eq!(body, b"<h1>home</h1>");

        let (head, body) = get(&addr, "/part-1/a%20b.html?x=1#frag");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"spaced");

        let (head, _) = get(&addr, "/plot.svg");
        assert!(head.contains("Content-Type: image/svg+xml"), "{head}");
        let (head, body) = get(&addr, "/font.woff2");
        assert!(head.contains("Content-Type: font/woff2"), "{head}");
        assert!(head.contains("Content-Length: 3"), "{head}");
        assert_eq!(body, [0, 1, 2]);
    }

    #[test]
    fn missing_is_404_and_traversal_is_refused() {
        let (_tmp, root) = fixture();
        let server = StaticServer::start(&root, "/").unwrap();
        let addr = server.addr.to_string();
        for target in [
            "/nope.html",
            "/../secret.txt",
            "/part-1/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/part-1/%2E%2E/%2E%2E/secret.txt",
            "/..%2fsecret.txt",
            "/..%5csecret.txt",
            "/%00",
            "/bad%zz",
        ] {
            let (head, body) = get(&addr, target);
            assert!(head.starts_with("HTTP/1.1 404"), "{target}: {head}");
            assert!(!String::from_utf8_lossy(&body).contains("outside"));
        }
    }

    #[test]
    fn serves_below_a_site_prefix() {
        let (_tmp, root) = fixture();
        let server = StaticServer::start(&root, "under-load").unwrap();
        assert!(server.book_url().ends_with("/under-load/"));
        let addr = server.addr.to_string();
        let (head, body) = get(&addr, "/under-load/index.html");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"<h1>home</h1>");
        let (head, _) = get(&addr, "/under-load/");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        for target in [
            "/index.html",
            "/under-loadindex.html",
            "/under-load/../secret.txt",
        ] {
            let (head, _) = get(&addr, target);
            assert!(head.starts_with("HTTP/1.1 404"), "{target}: {head}");
        }
        assert_eq!(normalize_prefix(""), "/");
        assert_eq!(normalize_prefix("/a/b"), "/a/b/");
    }

    #[test]
    fn resolve_and_content_type_rules() {
        let root = Path::new("/srv/book");
        assert_eq!(
            resolve(root, "/a/./b.html"),
            Some(PathBuf::from("/srv/book/a/b.html"))
        );
        assert_eq!(
            resolve(root, "//x.css"),
            Some(PathBuf::from("/srv/book/x.css"))
        );
        assert_eq!(resolve(root, "x.css"), None);
        assert_eq!(resolve(root, "/a/../b"), None);
        assert_eq!(
            content_type(Path::new("a.JS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.json")), "application/json");
        assert_eq!(content_type(Path::new("a.png")), "image/png");
        assert_eq!(content_type(Path::new("a.css")), "text/css; charset=utf-8");
    }

    #[test]
    fn bad_requests() {
        let root = Path::new("/nonexistent");
        let r = String::from_utf8(respond(b"POST / HTTP/1.1\r\n\r\n", root, "/")).unwrap();
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        let r = String::from_utf8(respond(b"garbage\r\n\r\n", root, "/")).unwrap();
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        let r = String::from_utf8(respond(b"", root, "/")).unwrap();
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    }
}
