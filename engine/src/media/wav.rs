//! The header of a WAVE file (RIFF "WAVE" form with a PCM `fmt ` chunk and a `data` chunk, as
//! in Microsoft's "Multimedia Programming Interface and Data Specifications 1.0"), read from
//! the first bytes of a file: where its samples start, how many the header counts, and how to
//! make a header agree with the bytes a file actually holds.
//!
//! Recordings are written as stereo 16-bit PCM and their header is rewritten once a second, so
//! a file cut short by a crash holds samples its header does not count (or, if a header update
//! reached the disk before the samples it counts, counts samples it does not hold). [`parse`]
//! reads a header from a prefix of the file; [`Layout::repair`] gives the length to cut the
//! file to (whole sample frames only) and the two size fields to rewrite. No I/O here: the
//! caller reads the prefix and applies the [`Repair`].
//!
//! Guarantee: a file cut to `Repair::file_len` with `Repair::writes` applied parses again to a
//! layout for which `repair(file_len)` is `None`.

/// How many leading bytes of a file [`parse`] needs at most: headers with larger chunks
/// before `data` are refused as [`WavError::Short`].
pub const HEADER_PREFIX: usize = 4096;

/// The byte offset of the RIFF chunk's size field.
const RIFF_SIZE_AT: u64 = 4;

/// The largest data chunk a header can count (its size field is 32 bits).
const MAX_DATA_LEN: u64 = u32::MAX as u64;

/// Where a WAVE file's samples are and what they are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    /// Bytes of one sample frame (one sample of every channel).
    pub block_align: u16,
    /// The RIFF chunk size the header gives (the file's length less 8 when it agrees).
    pub riff_len: u32,
    /// Where the samples start: just past the `data` chunk header.
    pub data_offset: u64,
    /// The sample bytes the `data` chunk header counts.
    pub data_len: u32,
}

/// What to do to a file so that its header agrees with its bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// The length to cut the file to: the header and whole sample frames.
    pub file_len: u64,
    /// Bytes to write at offsets of the file (the RIFF size and the `data` size, little
    /// endian).
    pub writes: [(u64, [u8; 4]); 2],
    /// Sample frames the repaired file holds.
    pub frames: u64,
}

/// Why a prefix is no WAVE header this module can repair.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    #[error("no data chunk within the first {0} bytes")]
    Short(usize),
    #[error("not a RIFF file")]
    NotRiff,
    #[error("not a WAVE file")]
    NotWave,
    #[error("data chunk before the fmt chunk")]
    NoFormat,
    #[error("format tag {0:#06x} is not PCM")]
    NotPcm(u16),
    #[error("fmt chunk of {0} bytes is too short")]
    ShortFormat(u32),
    #[error("inconsistent format: {channels} channels of {bits} bits in blocks of {block_align}")]
    BadFormat {
        channels: u16,
        bits: u16,
        block_align: u16,
    },
}

/// `WAVE_FORMAT_PCM`.
const FORMAT_PCM: u16 = 1;
/// `WAVE_FORMAT_EXTENSIBLE` (its sub-format is PCM for every file the switch writes).
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// Reads the header at the start of `prefix` (the first [`HEADER_PREFIX`] bytes of a file,
/// or all of it if shorter): RIFF, WAVE, chunks up to and including the `data` chunk header.
pub fn parse(prefix: &[u8]) -> Result<Layout, WavError> {
    let prefix = &prefix[..prefix.len().min(HEADER_PREFIX)];
    let short = WavError::Short(prefix.len());
    if prefix.len() < 12 {
        return Err(if prefix.len() >= 4 && &prefix[..4] != b"RIFF" {
            WavError::NotRiff
        } else {
            short
        });
    }
    if &prefix[..4] != b"RIFF" {
        return Err(WavError::NotRiff);
    }
    if &prefix[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let riff_len = le32(prefix, 4);
    let mut format: Option<(u16, u32, u16, u16)> = None;
    let mut at = 12usize;
    loop {
        let (Some(id), Some(size)) = (prefix.get(at..at + 4), prefix.get(at + 4..at + 8)) else {
            return Err(short);
        };
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
        let body = at + 8;
        match id {
            b"fmt " => {
                if size < 16 {
                    return Err(WavError::ShortFormat(size));
                }
                let f = prefix.get(body..body + 16).ok_or(short)?;
                let tag = le16(f, 0);
                if tag != FORMAT_PCM && tag != FORMAT_EXTENSIBLE {
                    return Err(WavError::NotPcm(tag));
                }
                let (channels, rate) = (le16(f, 2), le32(f, 4));
                let (block_align, bits) = (le16(f, 12), le16(f, 14));
                let whole_bytes = bits.div_ceil(8) as u32;
                if channels == 0 || bits == 0 || block_align as u32 != channels as u32 * whole_bytes
                {
                    return Err(WavError::BadFormat {
                        channels,
                        bits,
                        block_align,
                    });
                }
                format = Some((channels, rate, bits, block_align));
            }
            b"data" => {
                let (channels, sample_rate, bits_per_sample, block_align) =
                    format.ok_or(WavError::NoFormat)?;
                return Ok(Layout {
                    channels,
                    sample_rate,
                    bits_per_sample,
                    block_align,
                    riff_len,
                    data_offset: body as u64,
                    data_len: size,
                });
            }
            _ => {}
        }
        // chunks are padded to an even length (RIFF)
        at = body
            .checked_add(size as usize + (size as usize & 1))
            .filter(|&next| next < prefix.len())
            .ok_or(short)?;
    }
}

impl Layout {
    /// Whole sample frames in a file of `file_len` bytes with this header (the samples past
    /// `data_offset`, at most what a header can count).
    pub fn frames_in(&self, file_len: u64) -> u64 {
        let align = self.block_align as u64;
        let max = MAX_DATA_LEN - MAX_DATA_LEN % align;
        file_len.saturating_sub(self.data_offset).min(max) / align
    }

    /// Sample frames the header counts.
    pub fn frames_counted(&self) -> u64 {
        self.data_len as u64 / self.block_align as u64
    }

    /// How to make this header agree with a file of `file_len` bytes: cut it to whole sample
    /// frames and count all of them. `None` when it already agrees.
    pub fn repair(&self, file_len: u64) -> Option<Repair> {
        let frames = self.frames_in(file_len);
        let data_len = frames * self.block_align as u64;
        let new_len = self.data_offset + data_len;
        // a header at most 4 KiB long keeps `new_len - 8` within 32 bits only if the data
        // does: data_len is capped below 4 GiB less a block, so cap the RIFF size as well
        let riff_len = (new_len - 8).min(u32::MAX as u64) as u32;
        let agrees =
            new_len == file_len && self.data_len as u64 == data_len && self.riff_len == riff_len;
        (!agrees).then(|| Repair {
            file_len: new_len,
            writes: [
                (RIFF_SIZE_AT, riff_len.to_le_bytes()),
                (self.data_offset - 4, (data_len as u32).to_le_bytes()),
            ],
            frames,
        })
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 44-byte header of a stereo 16-bit PCM file at 16 kHz counting `data_len` bytes.
    fn header(data_len: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&16_000u32.to_le_bytes());
        h.extend_from_slice(&64_000u32.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    fn apply(file: &mut Vec<u8>, r: &Repair) {
        file.resize(r.file_len as usize, 0);
        for (at, bytes) in r.writes {
            file[at as usize..at as usize + 4].copy_from_slice(&bytes);
        }
    }

    #[test]
    fn a_plain_pcm_header_is_read() {
        let l = parse(&header(400)).unwrap();
        assert_eq!(
            (l.channels, l.sample_rate, l.bits_per_sample, l.block_align),
            (2, 16_000, 16, 4)
        );
        assert_eq!((l.data_offset, l.data_len, l.riff_len), (44, 400, 436));
        assert_eq!(l.frames_counted(), 100);
        assert_eq!(l.repair(444), None, "a file as long as its header says");
    }

    #[test]
    fn samples_past_the_counted_ones_are_counted_up_to_the_last_whole_frame() {
        let mut file = header(400);
        file.resize(44 + 1000 + 3, 7);
        let l = parse(&file).unwrap();
        let r = l.repair(file.len() as u64).unwrap();
        assert_eq!(r.file_len, 44 + 1000, "the partial frame is cut off");
        assert_eq!(r.frames, 250);
        apply(&mut file, &r);
        let again = parse(&file).unwrap();
        assert_eq!(again.data_len, 1000);
        assert_eq!(again.riff_len, 1036);
        assert_eq!(again.repair(file.len() as u64), None);
    }

    #[test]
    fn a_header_that_counts_more_than_the_file_holds_is_cut_down_to_what_is_there() {
        let mut file = header(4000);
        file.resize(44 + 800, 1);
        let r = parse(&file).unwrap().repair(file.len() as u64).unwrap();
        assert_eq!((r.file_len, r.frames), (844, 200));
        apply(&mut file, &r);
        assert_eq!(parse(&file).unwrap().data_len, 800);
    }

    #[test]
    fn a_header_never_updated_after_creation_counts_what_follows_it() {
        // the writer starts with zero sizes and a crash came before its first update
        let mut file = header(0);
        file[4..8].copy_from_slice(&0u32.to_le_bytes());
        file.resize(44 + 64, 0);
        let r = parse(&file).unwrap().repair(file.len() as u64).unwrap();
        assert_eq!(r.frames, 16);
        apply(&mut file, &r);
        assert_eq!(parse(&file).unwrap().riff_len, 36 + 64);
    }

    #[test]
    fn other_chunks_before_data_are_skipped_with_their_padding() {
        let mut file = header(8);
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        file.splice(36..36, list);
        let l = parse(&file).unwrap();
        assert_eq!(l.data_offset, 44 + 12);
    }

    #[test]
    fn damaged_headers_and_any_length_never_panic_and_every_repair_holds() {
        // the fuzz target's property on a seeded sample of damage, run with the unit tests
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for _ in 0..20_000 {
            let mut file = header(next() % 4000);
            file.resize(44 + (next() % 600) as usize, 3);
            for _ in 0..next() % 4 {
                let at = next() as usize % file.len();
                file[at] = next() as u8;
            }
            let Ok(layout) = parse(&file) else { continue };
            for len in [file.len() as u64, next() as u64 % 5000] {
                let Some(r) = layout.repair(len) else {
                    continue;
                };
                assert_eq!(
                    (r.file_len - layout.data_offset) % layout.block_align as u64,
                    0
                );
                if r.file_len as usize <= file.len() {
                    let mut fixed = file[..r.file_len as usize].to_vec();
                    apply(&mut fixed, &r);
                    assert_eq!(parse(&fixed).unwrap().repair(r.file_len), None);
                }
            }
        }
    }

    #[test]
    fn what_is_no_pcm_wave_header_is_refused() {
        assert_eq!(parse(b"RIFX"), Err(WavError::NotRiff));
        assert_eq!(parse(b"RIFF"), Err(WavError::Short(4)));
        let mut h = header(0);
        h[8] = b'A';
        assert_eq!(parse(&h), Err(WavError::NotWave));
        let mut h = header(0);
        h[20] = 3; // IEEE float
        assert_eq!(parse(&h), Err(WavError::NotPcm(3)));
        let mut h = header(0);
        h[32] = 3; // block align 3 for two 16-bit channels
        assert!(matches!(parse(&h), Err(WavError::BadFormat { .. })));
        assert_eq!(parse(&header(0)[..40]), Err(WavError::Short(40)));
        let mut h = header(0);
        h[12..16].copy_from_slice(b"junk");
        assert_eq!(parse(&h), Err(WavError::NoFormat));
    }
}
