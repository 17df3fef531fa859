//! The protobuf wire format: just enough to walk ONNX messages field by field.
//!
//! Hand-written so that no build script or code generator runs: onnx-ir 0.22 does not
//! exist on crates.io (only 0.23 pre-releases, which depend on a newer Burn), and
//! prost-build would need `protoc`.

/// One field of a message: its number and its payload.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// Wire type 0.
    Varint(u32, u64),
    /// Wire type 1, skipped: no field this crate reads is a 64-bit fixed value.
    Fixed64(u32),
    /// Wire type 2: a nested message, a string, bytes or a packed repeated field.
    Bytes(u32, &'a [u8]),
    /// Wire type 5.
    Fixed32(u32, [u8; 4]),
}

impl Field<'_> {
    /// Returns the field number.
    pub fn number(&self) -> u32 {
        match self {
            Field::Varint(n, _) | Field::Fixed64(n) | Field::Bytes(n, _) | Field::Fixed32(n, _) => {
                *n
            }
        }
    }
}

/// Iterates over the fields of one message, stopping at the first malformed one.
pub struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Starts reading `bytes` as a message.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }

        let result = read_field(self.bytes, &mut self.pos);
        if result.is_err() {
            // Stop after an error: the position is no longer trustworthy.
            self.pos = self.bytes.len();
        }
        Some(result)
    }
}

fn read_field<'a>(bytes: &'a [u8], pos: &mut usize) -> Result<Field<'a>, String> {
    let key = read_varint(bytes, pos)?;
    let number = u32::try_from(key >> 3).map_err(|_| "field number too large".to_string())?;

    match key & 7 {
        0 => Ok(Field::Varint(number, read_varint(bytes, pos)?)),
        1 => {
            take(bytes, pos, 8)?;
            Ok(Field::Fixed64(number))
        }
        2 => {
            let len = usize::try_from(read_varint(bytes, pos)?)
                .map_err(|_| "length too large".to_string())?;
            Ok(Field::Bytes(number, take(bytes, pos, len)?))
        }
        5 => Ok(Field::Fixed32(
            number,
            take(bytes, pos, 4)?.try_into().expect("4 bytes"),
        )),
        other => Err(format!("unsupported wire type {other} at byte {pos}")),
    }
}

/// Reads a base-128 varint.
pub fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;

    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| "truncated varint (file cut short?)".to_string())?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }

    Err("varint longer than 10 bytes".to_string())
}

fn take<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8], String> {
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| format!("field of {len} bytes runs past the end (file cut short?)"))?;
    let slice = &bytes[*pos..end];
    *pos = end;
    Ok(slice)
}

/// Decodes a repeated `int64` field, packed (one `Bytes` field) or not (one `Varint` each).
pub fn push_int64s(field: Field<'_>, out: &mut Vec<i64>) -> Result<(), String> {
    match field {
        Field::Varint(_, value) => out.push(value as i64),
        Field::Bytes(_, packed) => {
            let mut pos = 0;
            while pos < packed.len() {
                out.push(read_varint(packed, &mut pos)? as i64);
            }
        }
        _ => return Err("expected an int64".to_string()),
    }
    Ok(())
}

/// Decodes a repeated `float` field, packed or not.
pub fn push_floats(field: Field<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match field {
        Field::Fixed32(_, bytes) => out.push(f32::from_le_bytes(bytes)),
        Field::Bytes(_, packed) if packed.len() % 4 == 0 => out.extend(
            packed
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        ),
        _ => return Err("expected a float".to_string()),
    }
    Ok(())
}

/// Decodes a UTF-8 string field.
pub fn string(field: Field<'_>) -> Result<String, String> {
    match field {
        Field::Bytes(_, bytes) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| "string is not UTF-8".to_string())
        }
        _ => Err("expected a string".to_string()),
    }
}
