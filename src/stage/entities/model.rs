//! The entity model: a linear-chain model over BIO labels for PER, ORG, LOC and MISC,
//! with hashed features ([`super::features`]) and Viterbi decoding inside candidate runs.
//!
//! Trained by `train-entities` (an averaged structured perceptron, [`super::train`]); the
//! weights are quantized to `i16` and stored sparsely in a versioned, checksummed file.
//!
//! File layout (little endian):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `WDENTMOD` |
//! | 4 | format version ([`FORMAT`]) |
//! | 4 | feature version ([`super::features::FEATURE_VERSION`]) |
//! | 4 | number of labels (9) |
//! | 4 | bucket bits (weight table has `2^bits` rows) |
//! | 4 | scale (f32: weight = i16 × scale) |
//! | 4 + n | model name (UTF-8), e.g. `wiredesk-entities-1-<hash>` |
//! | 8 | payload length |
//! | 32 | BLAKE3 of the payload |
//! | n | payload: 81 transition weights (i32), row count (u32), then per non-zero row the row-index delta (LEB128) and 9 weights (i16) |

use anyhow::{Context, bail, ensure};

/// Labels: `O`, then `B-X`, `I-X` for X in PER, ORG, LOC, MISC.
pub(crate) const LABELS: usize = 9;
/// Entity types in label order.
pub(crate) const TYPES: [&str; 4] = ["PER", "ORG", "LOC", "MISC"];

const MAGIC: &[u8; 8] = b"WDENTMOD";
/// Version of the file layout.
pub(crate) const FORMAT: u32 = 1;

#[inline]
pub(crate) fn b_of(ty: usize) -> usize {
    1 + 2 * ty
}
#[inline]
pub(crate) fn i_of(ty: usize) -> usize {
    2 + 2 * ty
}
/// Type of a non-`O` label.
#[inline]
pub(crate) fn type_of(label: usize) -> usize {
    (label - 1) / 2
}
#[inline]
pub(crate) fn is_inside(label: usize) -> bool {
    label != 0 && label.is_multiple_of(2)
}

/// `I-X` may only follow `B-X` or `I-X`.
#[inline]
pub(crate) fn allowed(prev: usize, cur: usize) -> bool {
    !is_inside(cur) || (prev != 0 && type_of(prev) == type_of(cur))
}

/// A loaded model.
pub struct Model {
    name: String,
    /// Weight of one quantization step.
    scale: f32,
    mask: u64,
    rows: Vec<[i16; LABELS]>,
    /// `trans[prev][cur]`; a run starts after `O`.
    trans: [[i32; LABELS]; LABELS],
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("rows", &self.rows.len())
            .finish()
    }
}

/// Scores that Viterbi can add and compare (i32 at run time, f32 in training).
pub(crate) trait Score: Copy + PartialOrd + std::ops::Add<Output = Self> {
    const MIN: Self;
}
impl Score for i32 {
    const MIN: Self = i32::MIN / 4;
}
impl Score for f32 {
    const MIN: Self = -1e30;
}

/// Best label sequence for emissions `em` under transitions `trans` (BIO-valid). `mask`, if
/// given, restricts each position to a set of labels (bit per label).
pub(crate) fn viterbi<S: Score>(
    em: &[[S; LABELS]],
    trans: &[[S; LABELS]; LABELS],
    mask: Option<&[u16]>,
    out: &mut Vec<u8>,
) {
    let mut back = Vec::new();
    viterbi_with(em, trans, mask, &mut back, out);
}

/// [`viterbi`] with a caller-owned back-pointer buffer (no allocation per run).
pub(crate) fn viterbi_with<S: Score>(
    em: &[[S; LABELS]],
    trans: &[[S; LABELS]; LABELS],
    mask: Option<&[u16]>,
    back: &mut Vec<[u8; LABELS]>,
    out: &mut Vec<u8>,
) {
    out.clear();
    let n = em.len();
    if n == 0 {
        return;
    }
    let ok = |i: usize, l: usize| mask.is_none_or(|m| m.get(i).is_some_and(|&b| b & (1 << l) != 0));
    back.clear();
    back.resize(n, [0; LABELS]);
    let mut cur = [S::MIN; LABELS];
    for l in 0..LABELS {
        if allowed(0, l) && ok(0, l) {
            cur[l] = trans[0][l] + em[0][l];
        }
    }
    for i in 1..n {
        let mut next = [S::MIN; LABELS];
        for l in 0..LABELS {
            if !ok(i, l) {
                continue;
            }
            let mut best = S::MIN;
            let mut arg = 0u8;
            for p in 0..LABELS {
                if cur[p] <= S::MIN || !allowed(p, l) {
                    continue;
                }
                let s = cur[p] + trans[p][l];
                if s > best {
                    best = s;
                    arg = p as u8;
                }
            }
            if best > S::MIN {
                next[l] = best + em[i][l];
                back[i][l] = arg;
            }
        }
        cur = next;
    }
    let mut best = 0;
    for l in 1..LABELS {
        if cur[l] > cur[best] {
            best = l;
        }
    }
    out.resize(n, 0);
    out[n - 1] = best as u8;
    for i in (1..n).rev() {
        out[i - 1] = back[i][out[i] as usize];
    }
}

fn read_u32(b: &[u8], at: &mut usize) -> anyhow::Result<u32> {
    let s = b.get(*at..*at + 4).context("model file is truncated")?;
    *at += 4;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_leb(b: &[u8], at: &mut usize) -> anyhow::Result<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).context("model payload is truncated")?;
        *at += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    bail!("model payload has a bad row index")
}

impl Model {
    /// The model's name, recorded in each record's provenance.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parse and verify a model file. Fails with a clear message on a wrong magic, format,
    /// feature version, label count, size or checksum.
    pub fn from_bytes(b: &[u8]) -> anyhow::Result<Self> {
        ensure!(
            b.get(..8) == Some(&MAGIC[..]),
            "not a wiredesk entity model (bad magic)"
        );
        let mut at = 8;
        let format = read_u32(b, &mut at)?;
        ensure!(
            format == FORMAT,
            "entity model format {format} is not supported (this build reads format {FORMAT})"
        );
        let fv = read_u32(b, &mut at)?;
        ensure!(
            fv == super::features::FEATURE_VERSION,
            "entity model was trained on feature set {fv}, this build computes feature set {}: retrain it (train-entities)",
            super::features::FEATURE_VERSION
        );
        let labels = read_u32(b, &mut at)? as usize;
        ensure!(
            labels == LABELS,
            "entity model has {labels} labels, expected {LABELS}"
        );
        let bits = read_u32(b, &mut at)?;
        ensure!(
            (10..=24).contains(&bits),
            "entity model has a bad table size (2^{bits})"
        );
        let scale = f32::from_bits(read_u32(b, &mut at)?);
        ensure!(
            scale.is_finite() && scale > 0.0,
            "entity model has a bad scale"
        );
        let name_len = read_u32(b, &mut at)? as usize;
        let name = b
            .get(at..at + name_len)
            .context("model file is truncated (name)")?;
        let name = std::str::from_utf8(name)
            .context("entity model name is not UTF-8")?
            .to_string();
        at += name_len;
        let plen = b
            .get(at..at + 8)
            .context("model file is truncated (length)")?;
        let plen = u64::from_le_bytes(plen.try_into().context("length")?) as usize;
        at += 8;
        let sum = b
            .get(at..at + 32)
            .context("model file is truncated (checksum)")?;
        at += 32;
        let payload = b
            .get(at..at + plen)
            .context("model file is truncated (payload)")?;
        ensure!(at + plen == b.len(), "model file has trailing bytes");
        ensure!(
            blake3::hash(payload).as_bytes()[..] == sum[..],
            "entity model checksum mismatch: the file is corrupt"
        );
        let mut p = 0;
        let mut trans = [[0i32; LABELS]; LABELS];
        for row in &mut trans {
            for x in row.iter_mut() {
                *x = read_u32(payload, &mut p)? as i32;
            }
        }
        let size = 1usize << bits;
        let mut rows = vec![[0i16; LABELS]; size];
        let nnz = read_u32(payload, &mut p)? as usize;
        let mut idx: usize = 0;
        for r in 0..nnz {
            let delta = read_leb(payload, &mut p)? as usize;
            idx = if r == 0 { delta } else { idx + delta };
            ensure!(idx < size, "model payload row index out of range");
            let s = payload
                .get(p..p + 2 * LABELS)
                .context("model payload is truncated")?;
            for (l, x) in rows[idx].iter_mut().enumerate() {
                *x = i16::from_le_bytes([s[2 * l], s[2 * l + 1]]);
            }
            p += 2 * LABELS;
        }
        ensure!(p == payload.len(), "model payload has trailing bytes");
        Ok(Self {
            name,
            scale,
            mask: (size as u64) - 1,
            rows,
            trans,
        })
    }

    /// A weight in training units, in this model's quantized units.
    pub(crate) fn units(&self, w: f32) -> i32 {
        (w / self.scale).round() as i32
    }

    /// Write a model file from float weights (training). Weights are quantized to i16. The
    /// name is `prefix` plus the first 8 hex digits of the payload's BLAKE3 hash, so two
    /// models with the same name have the same weights.
    pub(crate) fn to_bytes(
        prefix: &str,
        bits: u32,
        weights: &[[f32; LABELS]],
        trans: &[[f32; LABELS]; LABELS],
    ) -> Vec<u8> {
        let max = weights
            .iter()
            .flatten()
            .chain(trans.iter().flatten())
            .fold(0f32, |m, &w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32000.0 } else { 1.0 };
        let q = |w: f32| (w / scale).round().clamp(-32767.0, 32767.0) as i16;
        let mut payload = Vec::new();
        for row in trans {
            for &x in row {
                payload.extend_from_slice(&((x / scale).round() as i32).to_le_bytes());
            }
        }
        let nz: Vec<(usize, [i16; LABELS])> = weights
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.map(q)))
            .filter(|(_, r)| r.iter().any(|&x| x != 0))
            .collect();
        payload.extend_from_slice(&(nz.len() as u32).to_le_bytes());
        let mut last = 0usize;
        for (r, (i, row)) in nz.iter().enumerate() {
            let mut delta = if r == 0 { *i } else { i - last } as u64;
            last = *i;
            loop {
                let byte = (delta & 0x7f) as u8;
                delta >>= 7;
                if delta == 0 {
                    payload.push(byte);
                    break;
                }
                payload.push(byte | 0x80);
            }
            for x in row {
                payload.extend_from_slice(&x.to_le_bytes());
            }
        }
        let name = format!("{prefix}-{}", &blake3::hash(&payload).to_hex()[..8]);
        let mut out = Vec::with_capacity(payload.len() + 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&super::features::FEATURE_VERSION.to_le_bytes());
        out.extend_from_slice(&(LABELS as u32).to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&scale.to_bits().to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(blake3::hash(&payload).as_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Emission scores of one token from its feature hashes.
    #[inline]
    pub(crate) fn emit(&self, feats: &[u64]) -> [i32; LABELS] {
        let mut s = [0i32; LABELS];
        for &f in feats {
            let row = &self.rows[(f & self.mask) as usize];
            for l in 0..LABELS {
                s[l] += row[l] as i32;
            }
        }
        s
    }

    pub(crate) fn trans(&self) -> &[[i32; LABELS]; LABELS] {
        &self.trans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        let mut w = vec![[0f32; LABELS]; 1 << 10];
        w[3][1] = 1.5;
        w[700][4] = -2.0;
        let mut t = [[0f32; LABELS]; LABELS];
        t[1][2] = 0.5;
        Model::to_bytes("test-model", 10, &w, &t)
    }

    #[test]
    fn roundtrip_keeps_weights_and_name() {
        let m = Model::from_bytes(&tiny()).unwrap();
        assert!(m.name().starts_with("test-model-"), "{}", m.name());
        assert!(m.rows[3][1] > 0 && m.rows[700][4] < 0);
        assert_eq!(m.rows[5], [0; LABELS]);
        assert!(m.trans[1][2] > 0);
    }

    #[test]
    fn corrupt_or_mismatched_files_are_refused() {
        let good = tiny();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let err = Model::from_bytes(&flipped).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        let err = Model::from_bytes(&good[..good.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut fv = good.clone();
        fv[12] ^= 0x40;
        let err = Model::from_bytes(&fv).unwrap_err().to_string();
        assert!(err.contains("feature set"), "{err}");
        let err = Model::from_bytes(b"hello").unwrap_err().to_string();
        assert!(err.contains("magic"), "{err}");
    }

    #[test]
    fn viterbi_respects_bio() {
        // Emissions prefer I-PER at the start, which is invalid: B-PER must come first.
        let mut em = [[0i32; LABELS]; 2];
        em[0][i_of(0)] = 10;
        em[0][b_of(0)] = 5;
        em[1][i_of(0)] = 10;
        let t = [[0i32; LABELS]; LABELS];
        let mut out = Vec::new();
        viterbi(&em, &t, None, &mut out);
        assert_eq!(out, vec![b_of(0) as u8, i_of(0) as u8]);
    }
}
