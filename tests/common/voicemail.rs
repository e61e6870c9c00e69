//! The voicemail HTTP API from a test: WAV files made with hound in any format, requests
//! with binary bodies, imports and listings, and what a mailbox's directory holds.

use std::io::{Cursor, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};
use switchboard_engine::media::SampleRate;

use super::audio::Audio;

/// The operator's token of the switches these tests start.
pub const TOKEN: &str = "vm-operator-token";

/// A WAV file format: rate, channels, bits per sample, float samples.
#[derive(Copy, Clone, Debug)]
pub struct Format {
    pub rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub float: bool,
}

impl Format {
    pub const fn int(rate: u32, channels: u16, bits: u16) -> Format {
        Format {
            rate,
            channels,
            bits,
            float: false,
        }
    }

    pub const fn float(rate: u32, channels: u16) -> Format {
        Format {
            rate,
            channels,
            bits: 32,
            float: true,
        }
    }
}

/// A WAV file of `secs` of a sine of `hz` at `dbfs` (a full-scale sine is 0 dBFS), the same
/// on every channel.
pub fn tone_wav(f: Format, secs: f64, hz: f64, dbfs: f64) -> Vec<u8> {
    let spec = WavSpec {
        channels: f.channels,
        sample_rate: f.rate,
        bits_per_sample: f.bits,
        sample_format: if f.float {
            SampleFormat::Float
        } else {
            SampleFormat::Int
        },
    };
    let amplitude = 10f64.powf(dbfs / 20.0);
    let max = ((1i64 << (f.bits - 1)) - 1) as f64;
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = WavWriter::new(&mut out, spec).unwrap();
        for i in 0..(secs * f.rate as f64).round() as usize {
            let x = amplitude * (std::f64::consts::TAU * hz * i as f64 / f.rate as f64).sin();
            for _ in 0..f.channels {
                if f.float {
                    w.write_sample(x as f32).unwrap();
                } else {
                    w.write_sample((x * max).round() as i32).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }
    out.into_inner()
}

/// An answer: status, head, body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value (the first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request with any body (`content_type`, bytes) and extra headers.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

/// [`request`], `None` when the switch cannot be reached or gives no answer (it was killed).
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Option<Answer> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some((ctype, b)) = body {
        head.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some((_, b)) = body {
        bytes.extend_from_slice(b);
    }
    // a refusal may come before the whole body is taken: the answer is read all the same
    let _ = s.write_all(&bytes);
    try_read_answer(&mut s)
}

/// Reads an answer to the end of the connection.
pub fn read_answer(s: &mut std::net::TcpStream) -> Answer {
    try_read_answer(s).expect("an answer")
}

fn try_read_answer(s: &mut std::net::TcpStream) -> Option<Answer> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    Some(Answer {
        status,
        head,
        body: out[split + 4..].to_vec(),
    })
}

/// `Authorization: Bearer` with the operator's token.
pub fn operator() -> String {
    format!("Bearer {TOKEN}")
}

/// A JSON request as someone (`auth`, a whole `Authorization` value).
pub fn json(http: SocketAddr, method: &str, path: &str, auth: &str, body: Option<&str>) -> Answer {
    request(
        http,
        method,
        path,
        &[("Authorization", auth)],
        body.map(|b| ("application/json", b.as_bytes())),
    )
}

/// The operator imports `wav` into `number`'s mailbox as a message from `caller`.
pub fn import(http: SocketAddr, number: &str, caller: &str, wav: &[u8]) -> Answer {
    try_import(http, number, caller, wav).expect("an answer to the import")
}

/// [`import`], `None` when there is no answer.
pub fn try_import(http: SocketAddr, number: &str, caller: &str, wav: &[u8]) -> Option<Answer> {
    try_request(
        http,
        "POST",
        &format!("/v1/accounts/{number}/voicemail?caller={caller}"),
        &[("Authorization", &operator())],
        Some(("audio/wav", wav)),
    )
}

/// The mailbox as a listing shows it to `auth`.
pub fn list(http: SocketAddr, number: &str, auth: &str) -> serde_json::Value {
    let a = json(
        http,
        "GET",
        &format!("/v1/accounts/{number}/voicemail"),
        auth,
        None,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()
}

/// A mono 16-bit WAV file's audio, read with hound.
pub fn mono_wav(bytes: &[u8]) -> Audio {
    let mut r = hound::WavReader::new(Cursor::new(bytes)).expect("a WAV file");
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.bits_per_sample, spec.sample_format),
        (1, 16, SampleFormat::Int),
        "mono 16-bit: {spec:?}"
    );
    let samples = r.samples::<i16>().collect::<Result<Vec<_>, _>>().unwrap();
    Audio::new(SampleRate::new(spec.sample_rate).unwrap(), samples)
}

/// The names of the files in a mailbox's directory, sorted (none when it does not exist).
pub fn files(data: &Path, number: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("voicemail").join(number))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
