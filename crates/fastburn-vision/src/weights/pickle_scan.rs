//! A safety scan of pickle opcodes, run before a checkpoint is handed to pytorch-reader.
//!
//! pytorch-reader 0.22.1 (used by burn-store 0.22.1) never executes a pickle, but it keeps
//! a call to an unknown global (`os.system`, `builtins.eval`, ...) as an opaque value and
//! carries on, so a hostile checkpoint loads silently. `torch.load(weights_only=True)`
//! rejects such a file instead, and so does this scan: every `GLOBAL`, `INST` and
//! `STACK_GLOBAL` must name a global from [`is_allowed_global`], or the file is rejected.
//!
//! `STACK_GLOBAL` takes its module and name from the stack, where they may come from the
//! memo, so the scan tracks the stack and memo with just enough precision to know those
//! two strings. Anything it cannot resolve is rejected, never guessed.

use std::collections::HashMap;

/// The reason a pickle was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// A global outside the allow-list, as `module.name`.
    Unsafe(String),
    /// A malformed or unsupported pickle, at a byte offset of the scanned slice.
    Invalid {
        /// Offset of the opcode.
        offset: usize,
        /// The problem found.
        message: String,
    },
}

/// Returns whether unpickling a reference to `module.name` is safe and needed for weights.
///
/// The list follows what `torch.load(weights_only=True)` accepts for state dicts: tensor
/// and parameter rebuild functions, storage types, dtypes, devices and `OrderedDict`.
pub fn is_allowed_global(module: &str, name: &str) -> bool {
    match module {
        "collections" => name == "OrderedDict",
        "torch._utils" => matches!(
            name,
            "_rebuild_tensor"
                | "_rebuild_tensor_v2"
                | "_rebuild_tensor_v3"
                | "_rebuild_parameter"
                | "_rebuild_parameter_with_state"
                | "_rebuild_device_tensor_from_numpy"
        ),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch.nn.parameter" => name == "Parameter",
        "torch.serialization" => name == "_get_layout",
        "torch.storage" => matches!(name, "UntypedStorage" | "TypedStorage"),
        "torch" => {
            name.ends_with("Storage")
                || is_torch_dtype(name)
                || matches!(name, "device" | "Size" | "Tensor" | "strided")
        }
        "builtins" => matches!(name, "set" | "frozenset" | "bytearray"),
        _ => false,
    }
}

fn is_torch_dtype(name: &str) -> bool {
    matches!(
        name,
        "float64"
            | "float32"
            | "float16"
            | "bfloat16"
            | "int64"
            | "int32"
            | "int16"
            | "int8"
            | "uint8"
            | "bool"
            | "double"
            | "float"
            | "half"
            | "long"
            | "int"
            | "short"
    )
}

/// The scan's model of a stack entry: a string (a candidate module or name for
/// `STACK_GLOBAL`), a `MARK`, or anything else.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Str(String),
    Mark,
    Other,
}

/// Scans one pickle starting at `bytes[0]` and returns the offset just past its `STOP`.
pub fn scan_pickle(bytes: &[u8]) -> Result<usize, ScanError> {
    let mut scanner = Scanner {
        bytes,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    };

    scanner.run()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    memo: HashMap<u64, Item>,
}

impl Scanner<'_> {
    fn run(&mut self) -> Result<usize, ScanError> {
        loop {
            let offset = self.pos;
            let opcode = self.take(1, offset)?[0];
            self.step(opcode, offset)?;

            if opcode == b'.' {
                return Ok(self.pos);
            }
        }
    }

    /// Applies one opcode's effect on the stack and memo.
    fn step(&mut self, opcode: u8, offset: usize) -> Result<(), ScanError> {
        match opcode {
            // STOP, PROTO, FRAME: no stack effect beyond their argument.
            b'.' => {}
            0x80 => self.skip(1, offset)?,
            0x95 => self.skip(8, offset)?,

            // MARK, POP, POP_MARK, DUP.
            b'(' => self.stack.push(Item::Mark),
            b'0' => {
                self.pop(offset)?;
            }
            b'1' => self.pop_to_mark(offset)?,
            b'2' => {
                let top = self.top(offset)?;
                self.stack.push(top);
            }

            // Numbers and constants.
            b'I' | b'L' | b'F' => self.push_line(offset)?,
            b'J' => self.push_skip(4, offset)?,
            b'K' => self.push_skip(1, offset)?,
            b'M' => self.push_skip(2, offset)?,
            b'G' => self.push_skip(8, offset)?,
            0x8a => {
                let len = self.take(1, offset)?[0] as usize;
                self.push_skip(len, offset)?;
            }
            0x8b => {
                let len = self.read_u32(offset)? as usize;
                self.push_skip(len, offset)?;
            }
            b'N' | 0x88 | 0x89 => self.stack.push(Item::Other),

            // Strings, which STACK_GLOBAL may consume.
            b'S' | b'V' => {
                let line = self.read_line(offset)?;
                let text = String::from_utf8_lossy(line);
                let text = text.trim_matches(|c| c == '\'' || c == '"').to_string();
                self.stack.push(Item::Str(text));
            }
            b'X' | b'T' => {
                let len = self.read_u32(offset)? as usize;
                self.push_str(len, offset)?;
            }
            0x8c | b'U' => {
                let len = self.take(1, offset)?[0] as usize;
                self.push_str(len, offset)?;
            }
            0x8d => {
                let len = self.read_u64(offset)?;
                self.push_str(len, offset)?;
            }

            // Bytes, which are never names.
            b'C' => {
                let len = self.take(1, offset)?[0] as usize;
                self.push_skip(len, offset)?;
            }
            b'B' => {
                let len = self.read_u32(offset)? as usize;
                self.push_skip(len, offset)?;
            }
            0x8e | 0x96 => {
                let len = self.read_u64(offset)?;
                self.push_skip(len, offset)?;
            }

            // Containers.
            b']' | b')' | b'}' | 0x8f => self.stack.push(Item::Other),
            b'l' | b't' | b'd' | 0x91 => {
                self.pop_to_mark(offset)?;
                self.stack.push(Item::Other);
            }
            0x85 => self.replace_top(1, offset)?,
            0x86 => self.replace_top(2, offset)?,
            0x87 => self.replace_top(3, offset)?,
            b'a' => {
                self.pop(offset)?;
            }
            b's' => {
                self.pop(offset)?;
                self.pop(offset)?;
            }
            b'e' | b'u' | 0x90 => self.pop_to_mark(offset)?,

            // Memo.
            b'g' => {
                let index = self.read_decimal_line(offset)?;
                self.get(index, offset)?;
            }
            b'h' => {
                let index = self.take(1, offset)?[0] as u64;
                self.get(index, offset)?;
            }
            b'j' => {
                let index = self.read_u32(offset)? as u64;
                self.get(index, offset)?;
            }
            b'p' => {
                let index = self.read_decimal_line(offset)?;
                self.put(index, offset)?;
            }
            b'q' => {
                let index = self.take(1, offset)?[0] as u64;
                self.put(index, offset)?;
            }
            b'r' => {
                let index = self.read_u32(offset)? as u64;
                self.put(index, offset)?;
            }
            0x94 => {
                let index = self.memo.len() as u64;
                self.put(index, offset)?;
            }

            // Globals: the only opcodes that can reach arbitrary Python code.
            b'c' => {
                let module = self.read_text_line(offset)?;
                let name = self.read_text_line(offset)?;
                check_global(&module, &name)?;
                self.stack.push(Item::Other);
            }
            b'i' => {
                let module = self.read_text_line(offset)?;
                let name = self.read_text_line(offset)?;
                check_global(&module, &name)?;
                self.pop_to_mark(offset)?;
                self.stack.push(Item::Other);
            }
            0x93 => {
                let name = self.pop(offset)?;
                let module = self.pop(offset)?;
                match (module, name) {
                    (Item::Str(module), Item::Str(name)) => check_global(&module, &name)?,
                    _ => return Err(invalid(offset, "STACK_GLOBAL without two strings")),
                }
                self.stack.push(Item::Other);
            }

            // Calls and object building, whose callables were checked above.
            b'R' | 0x81 => {
                self.pop(offset)?;
                self.replace_top(1, offset)?;
            }
            0x92 => {
                self.pop(offset)?;
                self.pop(offset)?;
                self.replace_top(1, offset)?;
            }
            b'b' => {
                self.pop(offset)?;
            }
            b'o' => {
                self.pop_to_mark(offset)?;
                self.stack.push(Item::Other);
            }

            // Persistent ids: how tensors reference their storages.
            b'P' => self.push_line(offset)?,
            b'Q' => self.replace_top(1, offset)?,

            // The extension registry and out-of-band buffers are not used by torch.save
            // and could name arbitrary objects, so they are rejected.
            0x82..=0x84 => return Err(ScanError::Unsafe("copyreg extension code".to_string())),
            0x97 | 0x98 => return Err(invalid(offset, "out-of-band buffers are not supported")),
            other => return Err(invalid(offset, &format!("unknown opcode 0x{other:02x}"))),
        }

        Ok(())
    }

    fn take(&mut self, len: usize, offset: usize) -> Result<&[u8], ScanError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| invalid(offset, "unexpected end of data"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn skip(&mut self, len: usize, offset: usize) -> Result<(), ScanError> {
        self.take(len, offset).map(|_| ())
    }

    fn read_u32(&mut self, offset: usize) -> Result<u32, ScanError> {
        let bytes = self.take(4, offset)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn read_u64(&mut self, offset: usize) -> Result<usize, ScanError> {
        let bytes = self.take(8, offset)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        usize::try_from(u64::from_le_bytes(array)).map_err(|_| invalid(offset, "length overflow"))
    }

    fn read_line(&mut self, offset: usize) -> Result<&[u8], ScanError> {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|byte| *byte == b'\n')
            .ok_or_else(|| invalid(offset, "unterminated line argument"))?;
        let line = &self.bytes[self.pos..self.pos + len];
        self.pos += len + 1;
        Ok(line)
    }

    fn read_text_line(&mut self, offset: usize) -> Result<String, ScanError> {
        let line = self.read_line(offset)?;
        String::from_utf8(line.to_vec()).map_err(|_| invalid(offset, "global name is not UTF-8"))
    }

    fn read_decimal_line(&mut self, offset: usize) -> Result<u64, ScanError> {
        let text = self.read_text_line(offset)?;
        text.trim()
            .parse()
            .map_err(|_| invalid(offset, "memo index is not a number"))
    }

    fn push_line(&mut self, offset: usize) -> Result<(), ScanError> {
        self.read_line(offset)?;
        self.stack.push(Item::Other);
        Ok(())
    }

    fn push_skip(&mut self, len: usize, offset: usize) -> Result<(), ScanError> {
        self.skip(len, offset)?;
        self.stack.push(Item::Other);
        Ok(())
    }

    fn push_str(&mut self, len: usize, offset: usize) -> Result<(), ScanError> {
        let bytes = self.take(len, offset)?;
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.stack.push(Item::Str(text));
        Ok(())
    }

    fn pop(&mut self, offset: usize) -> Result<Item, ScanError> {
        match self.stack.pop() {
            Some(Item::Mark) | None => Err(invalid(offset, "stack underflow")),
            Some(item) => Ok(item),
        }
    }

    fn top(&self, offset: usize) -> Result<Item, ScanError> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| invalid(offset, "stack underflow"))
    }

    fn pop_to_mark(&mut self, offset: usize) -> Result<(), ScanError> {
        loop {
            match self.stack.pop() {
                Some(Item::Mark) => return Ok(()),
                Some(_) => {}
                None => return Err(invalid(offset, "MARK not found")),
            }
        }
    }

    /// Pops `count` entries and pushes one opaque result.
    fn replace_top(&mut self, count: usize, offset: usize) -> Result<(), ScanError> {
        for _ in 0..count {
            self.pop(offset)?;
        }
        self.stack.push(Item::Other);
        Ok(())
    }

    fn get(&mut self, index: u64, offset: usize) -> Result<(), ScanError> {
        let item = self
            .memo
            .get(&index)
            .cloned()
            .ok_or_else(|| invalid(offset, &format!("memo index {index} not set")))?;
        self.stack.push(item);
        Ok(())
    }

    fn put(&mut self, index: u64, offset: usize) -> Result<(), ScanError> {
        let top = self.top(offset)?;
        if top == Item::Mark {
            return Err(invalid(offset, "memoizing a MARK"));
        }
        self.memo.insert(index, top);
        Ok(())
    }
}

fn check_global(module: &str, name: &str) -> Result<(), ScanError> {
    if is_allowed_global(module, name) {
        Ok(())
    } else {
        Err(ScanError::Unsafe(format!("{module}.{name}")))
    }
}

fn invalid(offset: usize, message: &str) -> ScanError {
    ScanError::Invalid {
        offset,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_dict_global_is_allowed() {
        let pickle = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.";
        assert_eq!(scan_pickle(pickle), Ok(pickle.len()));
    }

    #[test]
    fn os_system_global_is_rejected() {
        let pickle = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R.";
        assert_eq!(
            scan_pickle(pickle),
            Err(ScanError::Unsafe("os.system".to_string()))
        );
    }

    #[test]
    fn stack_global_from_memo_is_resolved() {
        // "builtins" memoized at 0, then fetched again for STACK_GLOBAL with "eval".
        let pickle = b"\x80\x04\x8c\x08builtins\x940h\x00\x8c\x04eval\x94\x93.";
        assert_eq!(
            scan_pickle(pickle),
            Err(ScanError::Unsafe("builtins.eval".to_string()))
        );
    }

    #[test]
    fn stack_global_of_unknown_values_is_rejected() {
        let pickle = b"\x80\x04K\x01K\x02\x93.";
        assert!(matches!(
            scan_pickle(pickle),
            Err(ScanError::Invalid { .. })
        ));
    }

    #[test]
    fn truncated_pickle_is_invalid() {
        let pickle = b"\x80\x02ccollections\nOrdered";
        assert!(matches!(
            scan_pickle(pickle),
            Err(ScanError::Invalid { .. })
        ));
    }
}
