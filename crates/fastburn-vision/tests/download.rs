//! Downloads (feature `network`) from a local HTTP server started by the test.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use fastburn_vision::weights::WeightsError;
use fastburn_vision::weights::download::{download, hash_prefix};
use sha2::{Digest, Sha256};

/// Serves one HTTP request on 127.0.0.1 with `status` and `body`, returning the URL.
fn serve_once(status: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();

    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(header.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
    });

    format!("http://{address}/weights.pth")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn hash_prefix_parses_torchvision_names() {
    assert_eq!(hash_prefix("resnet34-b627a593.pth"), Some("b627a593"));
    assert_eq!(
        hash_prefix("efficientnet-lite0-57934424.pth"),
        Some("57934424")
    );
    assert_eq!(hash_prefix("model.pth"), None);
    assert_eq!(hash_prefix("resnet34-final.pth"), None);
}

#[test]
fn matching_hash_is_saved() {
    let body = b"pretend weights".to_vec();
    let name = format!("net-{}.pth", &sha256_hex(&body)[..8]);
    let url = serve_once("200 OK", body.clone());
    let dir = tempfile::tempdir().unwrap();

    let path = download(&url, dir.path(), &name).unwrap();
    assert_eq!(path, dir.path().join(&name));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn wrong_hash_leaves_no_file() {
    let url = serve_once("200 OK", b"tampered".to_vec());
    let dir = tempfile::tempdir().unwrap();

    let err = download(&url, dir.path(), "net-00000000.pth").unwrap_err();
    assert!(matches!(err, WeightsError::Download { .. }), "{err}");
    assert!(err.to_string().contains("00000000"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn http_error_is_download_error() {
    let url = serve_once("404 Not Found", Vec::new());
    let dir = tempfile::tempdir().unwrap();

    let err = download(&url, dir.path(), "net-00000000.pth").unwrap_err();
    assert!(matches!(err, WeightsError::Download { .. }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
}
