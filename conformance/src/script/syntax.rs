//! The parser of packetdrill's script syntax (`.pkt`), for the subset that state-machine tests
//! use.
//!
//! This module owns the script as data ([`Script`], [`Event`], [`PacketLine`], [`CallLine`])
//! and [`parse`], which turns text into it or names the line and column where it does not
//! parse. It knows nothing of stacks or time: the runner (`super::run`) gives the lines their
//! meaning.
//!
//! What it reads, from packetdrill's syntax notes:
//! - comments: `//` to the end of the line, `/* ... */`;
//! - option lines before the first event: `--name=value`;
//! - events: a time, then a packet, a system call, a shell command in backticks, or a
//!   `%{ ... }%` code block. Whitespace and line breaks between tokens do not matter;
//! - times: `0.100` (absolute seconds), `+0.1` (after the previous event), `*` (any time),
//!   a range `a~b`, and a blocking call's start and end, `+0...0.100`, the end counted from
//!   the same point as the start (so from the previous event when the start is relative);
//! - packets: `<` inbound or `>` outbound, flags (`S F R P . U E W`, or `-` for none),
//!   `start:end(len)`, optional `ack N` and `win N`, and an option list `<mss 1460,nop,...>` or
//!   the wildcard `<...>`;
//! - system calls: `name(arg, ...) = ret [ERRNO [(text)]]`, the arguments being `...`,
//!   numbers, names, `A|B`, `[..]`, `{..}`, strings and `name=value` fields.

use std::fmt;

/// A place in a script: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Why a script does not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// A parsed script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// The `--name=value` lines before the first event, in order.
    pub options: Vec<ScriptOption>,
    /// The events, in order.
    pub events: Vec<Event>,
}

/// A `--name[=value]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptOption {
    /// Where.
    pub pos: Pos,
    /// The name, without the dashes.
    pub name: String,
    /// The value after `=`, if any.
    pub value: Option<String>,
}

/// A time, in microseconds, absolute (from the script's start) or after the previous event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    /// After the previous event (`+`), or from the start.
    pub relative: bool,
    /// Microseconds.
    pub micros: u64,
}

/// When an event happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `*`: at any time after the previous event.
    Any,
    /// At a time, or (`a~b`) at any time in a range.
    At {
        /// The time, or the start of the range.
        time: Time,
        /// The end of the range.
        upto: Option<Time>,
    },
}

/// One event of a script.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Where its line starts.
    pub pos: Pos,
    /// When it happens.
    pub when: When,
    /// For a blocking system call (`start...end`): when it returns.
    pub returns: Option<Time>,
    /// What happens.
    pub action: Action,
}

/// What an event does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A packet in or out.
    Packet(PacketLine),
    /// A system call.
    Call(CallLine),
    /// A shell command (in backticks).
    Shell(String),
    /// A `%{ ... }%` code block.
    Code(String),
}

/// The control bits a packet line gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagBits {
    /// S
    pub syn: bool,
    /// F
    pub fin: bool,
    /// R
    pub rst: bool,
    /// P
    pub psh: bool,
    /// `.`
    pub ack: bool,
    /// U
    pub urg: bool,
    /// E (ECN-Echo)
    pub ece: bool,
    /// W (Congestion Window Reduced)
    pub cwr: bool,
}

/// A TCP option as a script writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    /// `nop`
    Nop,
    /// `eol`
    Eol,
    /// `mss N`
    Mss(u16),
    /// `wscale N`
    WindowScale(u8),
    /// `sackOK`
    SackPermitted,
    /// `sack a:b c:d ...`
    Sack(Vec<(u32, u32)>),
    /// `TS val N ecr N`
    Timestamps {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// `FO ...`, `FOEXP ...`: TCP Fast Open's cookie option.
    FastOpen,
    /// `md5 ...` and other kinds the runner does not build.
    Other(String),
}

impl TcpOpt {
    /// The octets it takes in a TCP header (an option the runner does not build, its least).
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOpt::Nop | TcpOpt::Eol => 1,
            TcpOpt::Mss(_) => 4,
            TcpOpt::WindowScale(_) => 3,
            TcpOpt::SackPermitted | TcpOpt::FastOpen | TcpOpt::Other(_) => 2,
            TcpOpt::Sack(blocks) => 2 + 8 * blocks.len(),
            TcpOpt::Timestamps { .. } => 10,
        }
    }
}

/// The options of a packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opts {
    /// No option list: the segment carries no options.
    None,
    /// `<...>`: any options.
    Any,
    /// These options, in this order.
    List(Vec<TcpOpt>),
}

/// A packet line.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketLine {
    /// `<`: the script sends it to the stack; `>`: the stack must send it.
    pub inbound: bool,
    /// The control bits.
    pub flags: FlagBits,
    /// Where the flags are.
    pub flags_pos: Pos,
    /// The first sequence number, relative to the sender's ISN.
    pub seq: u32,
    /// Where the sequence numbers are.
    pub seq_pos: Pos,
    /// The data length.
    pub len: u32,
    /// `ack N`, relative to the receiver's ISN.
    pub ack: Option<(u32, Pos)>,
    /// `win N`.
    pub win: Option<(u32, Pos)>,
    /// The options.
    pub opts: Opts,
    /// Where the options are.
    pub opts_pos: Pos,
    /// An ECN codepoint in brackets (`[ect0]`, `[ce]`, ...), which the runner does not build.
    pub ecn: Option<String>,
}

/// A value in a system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything, or the default.
    Ellipsis,
    /// A number.
    Int(i64),
    /// A symbol (`SOCK_STREAM`, `SHUT_WR`, `O_NONBLOCK`).
    Name(String),
    /// `A|B|...`
    Or(Vec<Expr>),
    /// `[a, b]`: an array, or a value passed by pointer.
    List(Vec<Expr>),
    /// `{a, b}` or `{name=value, ...}`.
    Struct(Vec<Expr>),
    /// `name=value`, inside a struct.
    Field(String, Box<Expr>),
    /// A quoted string.
    Str(String),
}

impl Expr {
    /// The number, if it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Expr::Int(n) => Some(*n),
            Expr::List(v) if v.len() == 1 => v[0].int(),
            _ => None,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, v: &[Expr], sep: &str) -> fmt::Result {
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{e}")?;
            }
            Ok(())
        }
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Name(s) => f.write_str(s),
            Expr::Or(v) => join(f, v, "|"),
            Expr::List(v) => {
                f.write_str("[")?;
                join(f, v, ", ")?;
                f.write_str("]")
            }
            Expr::Struct(v) => {
                f.write_str("{")?;
                join(f, v, ", ")?;
                f.write_str("}")
            }
            Expr::Field(n, v) => write!(f, "{n}={v}"),
            Expr::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A system call line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLine {
    /// The call's name.
    pub name: String,
    /// Where the name is.
    pub pos: Pos,
    /// The arguments, each with where it is.
    pub args: Vec<(Expr, Pos)>,
    /// The expected return value.
    pub ret: Expr,
    /// Where the return value is.
    pub ret_pos: Pos,
    /// The expected errno's name, when the call must fail.
    pub errno: Option<String>,
}

/// Parses a script.
pub fn parse(text: &str) -> Result<Script, SyntaxError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
        col: 1,
        depth: 0,
    };
    let mut script = Script::default();
    loop {
        p.skip_blank()?;
        if p.peek().is_none() {
            break;
        }
        if p.looking_at("--") && script.events.is_empty() {
            script.options.push(p.option_line()?);
            continue;
        }
        script.events.push(p.event()?);
    }
    Ok(script)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: u32,
    col: u32,
    /// How deep the value being read is nested (`[`, `{`, `(`, `name=`).
    depth: u32,
}

/// The deepest a system call's value may nest: more is no call's argument, and would run the
/// parser out of stack.
const MAX_DEPTH: u32 = 32;

type Parsed<T> = Result<T, SyntaxError>;

impl Parser {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn error<T>(&self, pos: Pos, message: impl Into<String>) -> Parsed<T> {
        Err(SyntaxError {
            pos,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.at + n).copied()
    }

    fn looking_at(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// Skips whitespace, line breaks and comments.
    fn skip_blank(&mut self) -> Parsed<()> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') if self.peek_at(1) == Some('/') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('/') if self.peek_at(1) == Some('*') => self.block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// Skips a `/* ... */` comment, the cursor at its `/*`.
    fn block_comment(&mut self) -> Parsed<()> {
        let start = self.pos();
        self.bump_n(2);
        loop {
            if self.looking_at("*/") {
                self.bump_n(2);
                return Ok(());
            }
            if self.bump().is_none() {
                return self.error(start, "comment `/*` is never closed");
            }
        }
    }

    /// Skips spaces and tabs and comments, but stops at a line break.
    fn skip_spaces(&mut self) -> Parsed<()> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('/') if self.peek_at(1) == Some('*') => self.block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, s: &str) -> Parsed<()> {
        self.skip_blank()?;
        if self.looking_at(s) {
            self.bump_n(s.chars().count());
            Ok(())
        } else {
            let pos = self.pos();
            self.error(pos, format!("expected `{s}`, found {}", self.found()))
        }
    }

    /// What is at the cursor, for a message.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the script".into(),
            Some('\n') => "the end of the line".into(),
            Some(_) => {
                let word: String = self.chars[self.at..]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .take(16)
                    .collect();
                format!("`{word}`")
            }
        }
    }

    fn option_line(&mut self) -> Parsed<ScriptOption> {
        let pos = self.pos();
        self.bump_n(2);
        let name = self.word();
        if name.is_empty() {
            return self.error(pos, "expected an option name after `--`");
        }
        let value = if self.peek() == Some('=') {
            self.bump();
            let mut v = String::new();
            while let Some(c) = self.peek().filter(|c| *c != '\n') {
                v.push(c);
                self.bump();
            }
            Some(v.trim().to_string())
        } else {
            None
        };
        Ok(ScriptOption { pos, name, value })
    }

    /// Letters, digits and `_`.
    fn word(&mut self) -> String {
        let mut w = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            w.push(c);
            self.bump();
        }
        w
    }

    /// An unsigned decimal or hexadecimal integer.
    fn uint(&mut self, what: &str) -> Parsed<u64> {
        self.skip_blank()?;
        let pos = self.pos();
        let digits: String = if self.looking_at("0x") || self.looking_at("0X") {
            self.bump_n(2);
            let w = self.word();
            return u64::from_str_radix(&w, 16).or_else(|_| {
                self.error(
                    pos,
                    format!("expected {what} (a hexadecimal number), found `0x{w}`"),
                )
            });
        } else {
            let mut d = String::new();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                d.push(c);
                self.bump();
            }
            d
        };
        if digits.is_empty() {
            return self.error(pos, format!("expected {what}, found {}", self.found()));
        }
        digits
            .parse()
            .or_else(|_| self.error(pos, format!("{what} `{digits}` is too large")))
    }

    fn u32_value(&mut self, what: &str) -> Parsed<(u32, Pos)> {
        self.skip_blank()?;
        let pos = self.pos();
        let n = self.uint(what)?;
        u32::try_from(n)
            .map(|v| (v, pos))
            .or_else(|_| self.error(pos, format!("{what} {n} does not fit in 32 bits")))
    }

    /// Seconds with up to six decimals (`0`, `.1`, `1.000250`), in microseconds.
    fn seconds(&mut self) -> Parsed<u64> {
        let pos = self.pos();
        let mut whole = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            whole.push(c);
            self.bump();
        }
        let mut frac = String::new();
        // A `.` starts a fraction only if a digit follows; `...` is the blocking marker.
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                frac.push(c);
                self.bump();
            }
        }
        if whole.is_empty() && frac.is_empty() {
            return self.error(pos, format!("expected a time, found {}", self.found()));
        }
        if frac.len() > 6 {
            return self.error(pos, "a time has at most six decimals (microseconds)");
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            match whole.parse() {
                Ok(s) => s,
                Err(_) => return self.error(pos, "time too large"),
            }
        };
        let micros: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
        secs.checked_mul(1_000_000)
            .and_then(|s| s.checked_add(micros))
            .map_or_else(|| self.error(pos, "time too large"), Ok)
    }

    fn time(&mut self) -> Parsed<Time> {
        self.skip_blank()?;
        let relative = if self.peek() == Some('+') {
            self.bump();
            true
        } else {
            false
        };
        Ok(Time {
            relative,
            micros: self.seconds()?,
        })
    }

    fn event(&mut self) -> Parsed<Event> {
        let pos = self.pos();
        let when = if self.peek() == Some('*') {
            self.bump();
            When::Any
        } else {
            let c = self.peek().unwrap_or(' ');
            if !(c == '+' || c == '.' || c.is_ascii_digit()) {
                return self.error(
                    pos,
                    format!(
                        "expected an event's time (`0.1`, `+0.1` or `*`), found {}",
                        self.found()
                    ),
                );
            }
            let time = self.time()?;
            let upto = if self.peek() == Some('~') {
                self.bump();
                Some(self.time()?)
            } else {
                None
            };
            When::At { time, upto }
        };
        let returns = if self.looking_at("...") {
            self.bump_n(3);
            Some(self.time()?)
        } else {
            None
        };
        self.skip_blank()?;
        let action_pos = self.pos();
        let action = match self.peek() {
            Some('<') => Action::Packet(self.packet(true)?),
            Some('>') => Action::Packet(self.packet(false)?),
            Some('`') => Action::Shell(self.delimited("`", "`", "shell command")?),
            Some('%') if self.peek_at(1) == Some('{') => {
                Action::Code(self.delimited("%{", "}%", "code block")?)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => Action::Call(self.call()?),
            _ => {
                return self.error(
                    action_pos,
                    format!(
                        "expected a packet (`<` or `>`), a system call, a `shell command` or a %{{ code block }}%, found {}",
                        self.found()
                    ),
                )
            }
        };
        if returns.is_some() && !matches!(action, Action::Call(_)) {
            return self.error(
                pos,
                "only a system call can have an end time (`start...end`)",
            );
        }
        Ok(Event {
            pos,
            when,
            returns,
            action,
        })
    }

    fn delimited(&mut self, open: &str, close: &str, what: &str) -> Parsed<String> {
        let start = self.pos();
        self.bump_n(open.chars().count());
        let mut text = String::new();
        loop {
            if self.looking_at(close) {
                self.bump_n(close.chars().count());
                return Ok(text.trim().to_string());
            }
            match self.bump() {
                Some(c) => text.push(c),
                None => return self.error(start, format!("{what} is never closed (`{close}`)")),
            }
        }
    }

    fn packet(&mut self, inbound: bool) -> Parsed<PacketLine> {
        self.bump();
        self.skip_blank()?;
        let flags_pos = self.pos();
        let mut flags = FlagBits::default();
        let mut any = false;
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            match c {
                'S' => flags.syn = true,
                'F' => flags.fin = true,
                'R' => flags.rst = true,
                'P' => flags.psh = true,
                '.' => flags.ack = true,
                'U' => flags.urg = true,
                'E' => flags.ece = true,
                'W' => flags.cwr = true,
                '-' => {}
                _ => {
                    let pos = self.pos();
                    return self.error(
                        pos,
                        format!("`{c}` is not a TCP flag (S F R P . U E W, or - for none)"),
                    );
                }
            }
            any = true;
            self.bump();
        }
        if !any {
            return self.error(flags_pos, "expected the packet's flags");
        }
        self.skip_blank()?;
        let mut ecn = None;
        if self.peek() == Some('[') {
            self.bump();
            let w = self.word();
            self.expect("]")?;
            ecn = Some(w);
            self.skip_blank()?;
        }
        let seq_pos = self.pos();
        let (seq, _) = self.u32_value("the first sequence number")?;
        self.expect(":")?;
        let (end, _) = self.u32_value("the end sequence number")?;
        self.expect("(")?;
        let (len, _) = self.u32_value("the data length")?;
        self.expect(")")?;
        if end.wrapping_sub(seq) != len {
            return self.error(
                seq_pos,
                format!("{seq}:{end}({len}): the end is not the start plus the length"),
            );
        }
        let mut line = PacketLine {
            inbound,
            flags,
            flags_pos,
            seq,
            seq_pos,
            len,
            ack: None,
            win: None,
            opts: Opts::None,
            opts_pos: seq_pos,
            ecn,
        };
        loop {
            self.skip_spaces()?;
            let pos = self.pos();
            if self.looking_at("ack") && !self.peek_at(3).is_some_and(|c| c.is_alphanumeric()) {
                self.bump_n(3);
                line.ack = Some(self.u32_value("the acknowledgment number")?);
            } else if self.looking_at("win")
                && !self.peek_at(3).is_some_and(|c| c.is_alphanumeric())
            {
                self.bump_n(3);
                line.win = Some(self.u32_value("the window")?);
            } else if self.looking_at("urg") {
                return self.error(pos, "an urgent pointer is not supported");
            } else if self.peek() == Some('<') {
                line.opts_pos = pos;
                line.opts = self.options()?;
                break;
            } else {
                break;
            }
        }
        // A packet line ends at the end of its line (or a comment).
        self.skip_spaces()?;
        match self.peek() {
            None | Some('\n') => {}
            Some('/') if self.peek_at(1) == Some('/') => {}
            Some(_) => {
                let pos = self.pos();
                return self.error(pos, format!("unexpected {} after the packet", self.found()));
            }
        }
        Ok(line)
    }

    fn options(&mut self) -> Parsed<Opts> {
        let opened = self.pos();
        self.bump();
        self.skip_blank()?;
        if self.looking_at("...") {
            self.bump_n(3);
            self.expect(">")?;
            return Ok(Opts::Any);
        }
        let mut list = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some('>') && list.is_empty() {
                self.bump();
                return Ok(Opts::List(list));
            }
            let pos = self.pos();
            let name = self.word();
            let opt =
                match name.as_str() {
                    "nop" => TcpOpt::Nop,
                    "eol" => TcpOpt::Eol,
                    "mss" => {
                        let (v, p) = self.u32_value("the MSS")?;
                        TcpOpt::Mss(u16::try_from(v).or_else(|_| {
                            self.error(p, format!("MSS {v} does not fit in 16 bits"))
                        })?)
                    }
                    "wscale" => {
                        let (v, p) = self.u32_value("the window scale shift")?;
                        TcpOpt::WindowScale(u8::try_from(v).or_else(|_| {
                            self.error(p, format!("window scale {v} does not fit in 8 bits"))
                        })?)
                    }
                    "sackOK" => TcpOpt::SackPermitted,
                    "sack" => {
                        let mut blocks = Vec::new();
                        loop {
                            self.skip_blank()?;
                            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                                break;
                            }
                            let (a, _) = self.u32_value("a SACK block's left edge")?;
                            self.expect(":")?;
                            let (b, _) = self.u32_value("a SACK block's right edge")?;
                            blocks.push((a, b));
                        }
                        TcpOpt::Sack(blocks)
                    }
                    "TS" => {
                        self.skip_blank()?;
                        if self.word() != "val" {
                            let p = self.pos();
                            return self.error(p, "expected `val` after `TS`");
                        }
                        let (val, _) = self.u32_value("TSval")?;
                        self.skip_blank()?;
                        if self.word() != "ecr" {
                            let p = self.pos();
                            return self.error(p, "expected `ecr` after `TS val N`");
                        }
                        let (ecr, _) = self.u32_value("TSecr")?;
                        TcpOpt::Timestamps { val, ecr }
                    }
                    "FO" | "FOEXP" => {
                        self.skip_to_option_end();
                        TcpOpt::FastOpen
                    }
                    "" => {
                        return self.error(
                            pos,
                            format!("expected a TCP option, found {}", self.found()),
                        )
                    }
                    other => {
                        let other = other.to_string();
                        self.skip_to_option_end();
                        TcpOpt::Other(other)
                    }
                };
            list.push(opt);
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('>') => {
                    self.bump();
                    return Ok(Opts::List(list));
                }
                _ => {
                    let p = self.pos();
                    return self.error(
                        p,
                        format!(
                            "expected `,` or `>` in the option list opened at {opened}, found {}",
                            self.found()
                        ),
                    );
                }
            }
        }
    }

    fn skip_to_option_end(&mut self) {
        while self
            .peek()
            .is_some_and(|c| c != ',' && c != '>' && c != '\n')
        {
            self.bump();
        }
    }

    fn call(&mut self) -> Parsed<CallLine> {
        let pos = self.pos();
        let name = self.word();
        self.expect("(")?;
        let mut args = Vec::new();
        self.skip_blank()?;
        if self.peek() == Some(')') {
            self.bump();
        } else {
            loop {
                self.skip_blank()?;
                let p = self.pos();
                args.push((self.expr()?, p));
                self.skip_blank()?;
                match self.peek() {
                    Some(',') => {
                        self.bump();
                    }
                    Some(')') => {
                        self.bump();
                        break;
                    }
                    _ => {
                        let p = self.pos();
                        return self.error(
                            p,
                            format!(
                                "expected `,` or `)` after an argument of {name}, found {}",
                                self.found()
                            ),
                        );
                    }
                }
            }
        }
        self.expect("=")?;
        self.skip_blank()?;
        let ret_pos = self.pos();
        let ret = self.expr()?;
        self.skip_spaces()?;
        let mut errno = None;
        if self.peek().is_some_and(|c| c.is_ascii_uppercase()) {
            errno = Some(self.word());
            self.skip_spaces()?;
        }
        if self.peek() == Some('(') {
            // Free text: the errno's message, or a note on the value.
            let start = self.pos();
            let mut depth = 0;
            loop {
                match self.bump() {
                    Some('(') => depth += 1,
                    Some(')') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some('\n') | None => {
                        return self.error(start, "`(` after the return value is never closed")
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(CallLine {
            name,
            pos,
            args,
            ret,
            ret_pos,
            errno,
        })
    }

    fn expr(&mut self) -> Parsed<Expr> {
        let first = self.term()?;
        self.skip_blank()?;
        if self.peek() != Some('|') {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.peek() == Some('|') {
            self.bump();
            self.skip_blank()?;
            v.push(self.term()?);
            self.skip_blank()?;
        }
        Ok(Expr::Or(v))
    }

    fn term(&mut self) -> Parsed<Expr> {
        self.skip_blank()?;
        let pos = self.pos();
        if self.depth >= MAX_DEPTH {
            return self.error(pos, format!("a value nests more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let t = self.term_inner(pos);
        self.depth -= 1;
        t
    }

    fn term_inner(&mut self, pos: Pos) -> Parsed<Expr> {
        match self.peek() {
            Some('.') if self.looking_at("...") => {
                self.bump_n(3);
                Ok(Expr::Ellipsis)
            }
            Some('-') => {
                self.bump();
                let n = self.uint("a number")?;
                i64::try_from(n)
                    .map(|n| Expr::Int(-n))
                    .or_else(|_| self.error(pos, "number too large"))
            }
            Some(c) if c.is_ascii_digit() => {
                let n = self.uint("a number")?;
                i64::try_from(n)
                    .map(Expr::Int)
                    .or_else(|_| self.error(pos, "number too large"))
            }
            Some('[') => {
                self.bump();
                Ok(Expr::List(self.items(']')?))
            }
            Some('{') => {
                self.bump();
                Ok(Expr::Struct(self.items('}')?))
            }
            Some('"') => {
                self.bump();
                let mut s = String::new();
                loop {
                    match self.bump() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(c) = self.bump() {
                                s.push(c)
                            }
                        }
                        Some('\n') | None => return self.error(pos, "string is never closed"),
                        Some(c) => s.push(c),
                    }
                }
                Ok(Expr::Str(s))
            }
            Some('&') => {
                // `&sockaddr` and the like: an address the runner fills in.
                self.bump();
                let w = self.word();
                Ok(Expr::Name(format!("&{w}")))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let w = self.word();
                self.skip_spaces()?;
                if self.peek() == Some('=') && self.peek_at(1) != Some('=') {
                    self.bump();
                    let v = self.expr()?;
                    return Ok(Expr::Field(w, Box::new(v)));
                }
                // A call's value (`htons(8080)`, `inet_addr("...")`) is kept as its argument.
                if self.peek() == Some('(') {
                    self.bump();
                    let inner = self.items(')')?;
                    return Ok(Expr::Field(w, Box::new(Expr::List(inner))));
                }
                Ok(Expr::Name(w))
            }
            _ => self.error(pos, format!("expected a value, found {}", self.found())),
        }
    }

    fn items(&mut self, close: char) -> Parsed<Vec<Expr>> {
        let mut v = Vec::new();
        self.skip_blank()?;
        if self.peek() == Some(close) {
            self.bump();
            return Ok(v);
        }
        loop {
            v.push(self.expr()?);
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(v);
                }
                _ => {
                    let p = self.pos();
                    return self.error(
                        p,
                        format!("expected `,` or `{close}`, found {}", self.found()),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_handshake_parses() {
        let s = parse(
            "// a comment\n--tolerance_usecs=4000\n\
             0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
             +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
             +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n\
             +0 > S. 0:0(0) ack 1 <...>\n\
             +.1 < . 1:1(0) ack 1 win 257\n\
             +0 accept(3, ..., ...) = 4\n\
             +0...0.2 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)\n\
             0.3~0.5 > F. 1:1(0) ack 1\n* > R 1:1(0)\n",
        )
        .expect("parses");
        assert_eq!(s.options[0].name, "tolerance_usecs");
        assert_eq!(s.options[0].value.as_deref(), Some("4000"));
        assert_eq!(s.events.len(), 11);
        let Action::Packet(syn) = &s.events[4].action else {
            panic!("not a packet")
        };
        assert!(syn.inbound && syn.flags.syn && !syn.flags.ack);
        assert_eq!(syn.win.map(|w| w.0), Some(32792));
        assert_eq!(
            syn.opts,
            Opts::List(vec![
                TcpOpt::Mss(1000),
                TcpOpt::SackPermitted,
                TcpOpt::Nop,
                TcpOpt::Nop,
                TcpOpt::Nop,
                TcpOpt::WindowScale(7)
            ])
        );
        let Action::Packet(synack) = &s.events[5].action else {
            panic!("not a packet")
        };
        assert_eq!(synack.opts, Opts::Any);
        assert_eq!(synack.ack.map(|a| a.0), Some(1));
        let read = &s.events[8];
        assert_eq!(
            read.returns,
            Some(Time {
                relative: false,
                micros: 200_000
            })
        );
        let Action::Call(call) = &read.action else {
            panic!("not a call")
        };
        assert_eq!(call.ret, Expr::Int(-1));
        assert_eq!(call.errno.as_deref(), Some("EAGAIN"));
        assert_eq!(
            s.events[9].when,
            When::At {
                time: Time {
                    relative: false,
                    micros: 300_000
                },
                upto: Some(Time {
                    relative: false,
                    micros: 500_000
                })
            }
        );
        assert_eq!(s.events[10].when, When::Any);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse(
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S. 0:0(0) ack 1 <mss 1460,,>\n",
        )
        .unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 32 });
        let e = parse("+0 < S 0:10(0)\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 8 });
        assert!(e.message.contains("not the start plus the length"), "{e}");
        let e = parse("+0 < Q 0:0(0)\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 6 });
        let e = parse("/* open\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 1 });
        let e = parse("hello\n").unwrap_err();
        assert!(e.message.contains("expected an event's time"), "{e}");
    }

    #[test]
    fn call_arguments_keep_their_structure() {
        let s = parse(
            "0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n\
             +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
             +0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n\
             +0 `sysctl -q net.ipv4.tcp_timestamps=0`\n%{ print('x') }%\n",
        );
        // The code block has no time: that is an error at its line.
        let e = s.unwrap_err();
        assert_eq!(e.pos.line, 5);
        let s = parse(
            "0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n\
             +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
             +0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n\
             +0 `sysctl -q net.ipv4.tcp_timestamps=0`\n",
        )
        .expect("parses");
        let Action::Call(c) = &s.events[0].action else {
            panic!()
        };
        assert_eq!(c.args[3].0.to_string(), "{l_onoff=1, l_linger=0}");
        let Action::Call(c) = &s.events[1].action else {
            panic!()
        };
        assert_eq!(c.args[2].0.to_string(), "O_RDWR|O_NONBLOCK");
        let Action::Call(c) = &s.events[2].action else {
            panic!()
        };
        assert_eq!(c.ret, Expr::Int(0x802));
        assert_eq!(
            s.events[3].action,
            Action::Shell("sysctl -q net.ipv4.tcp_timestamps=0".into())
        );
    }
}
