//! The system calls a script may make, as the runner hands them to a target, and the errno
//! names their results are written with.
//!
//! This module owns [`Call`] (a script's call line made concrete: which socket, which option,
//! how many octets), [`Ret`], the errno table ([`errno_name`], [`errno_value`]) and the
//! translation from a parsed [`CallLine`] to a [`Call`], which names the argument that does not
//! fit. Both targets, the virtual host (`super::host`) and the Linux kernel, take the same
//! calls.

use super::syntax::{CallLine, Expr, Pos};

/// A system call, with its arguments made concrete. File descriptors are the script's
/// numbers; each target maps them to its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)`.
    Socket,
    /// `bind(fd, addr, len)`: to the stack's address and `port`.
    Bind {
        /// The socket.
        fd: i64,
        /// The port.
        port: u16,
    },
    /// `listen(fd, backlog)`.
    Listen {
        /// The socket.
        fd: i64,
        /// The backlog.
        backlog: i64,
    },
    /// `accept(fd, ...)`.
    Accept {
        /// The listener.
        fd: i64,
    },
    /// `connect(fd, ...)`: to the script's address and port.
    Connect {
        /// The socket.
        fd: i64,
    },
    /// `write`/`send`: `len` octets (zeros, as packetdrill writes them).
    Write {
        /// The socket.
        fd: i64,
        /// How many octets.
        len: usize,
    },
    /// `read`/`recv`: at most `len` octets.
    Read {
        /// The socket.
        fd: i64,
        /// How many octets at most.
        len: usize,
    },
    /// `close(fd)`.
    Close {
        /// The socket.
        fd: i64,
    },
    /// `shutdown(fd, how)`.
    Shutdown {
        /// The socket.
        fd: i64,
        /// Which directions.
        how: Shut,
    },
    /// `setsockopt(fd, level, name, [value], len)`.
    SetOption {
        /// The socket.
        fd: i64,
        /// The option.
        opt: SockOpt,
        /// Its value.
        value: i64,
    },
    /// `getsockopt(fd, SOL_SOCKET, SO_ERROR, [value], [len])`: a target returns the
    /// option's value as the call's result, and the runner compares it with the value in the
    /// script's brackets.
    GetError {
        /// The socket.
        fd: i64,
    },
    /// `fcntl(fd, F_SETFL, flags)`: only `O_NONBLOCK` matters.
    SetNonBlocking {
        /// The socket.
        fd: i64,
        /// Whether `O_NONBLOCK` is set.
        on: bool,
    },
    /// `fcntl(fd, F_GETFL)`.
    GetFlags {
        /// The socket.
        fd: i64,
    },
}

impl Call {
    /// The socket the call is made on, if any.
    pub fn fd(&self) -> Option<i64> {
        let mut call = *self;
        call.fd_mut().map(|fd| *fd)
    }

    /// The socket the call is made on, to map the script's descriptor to a target's.
    pub fn fd_mut(&mut self) -> Option<&mut i64> {
        match self {
            Call::Socket => None,
            Call::Bind { fd, .. }
            | Call::Listen { fd, .. }
            | Call::Accept { fd }
            | Call::Connect { fd }
            | Call::Write { fd, .. }
            | Call::Read { fd, .. }
            | Call::Close { fd }
            | Call::Shutdown { fd, .. }
            | Call::SetOption { fd, .. }
            | Call::GetError { fd }
            | Call::SetNonBlocking { fd, .. }
            | Call::GetFlags { fd } => Some(fd),
        }
    }
}

/// `shutdown`'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shut {
    /// `SHUT_RD`
    Read,
    /// `SHUT_WR`: the half-close, TCP's CLOSE.
    Write,
    /// `SHUT_RDWR`
    Both,
}

/// The socket options a script may set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    /// `SOL_SOCKET, SO_REUSEADDR`
    ReuseAddr,
    /// `IPPROTO_TCP, TCP_NODELAY`
    NoDelay,
}

/// `O_RDWR`, as `fcntl(F_GETFL)` reports it.
pub const O_RDWR: i64 = 0o2;
/// `O_NONBLOCK`.
pub const O_NONBLOCK: i64 = 0o4000;

/// What a call returned: a value, or -1 with an errno.
pub type Ret = Result<i64, i32>;

/// Linux's `EBADF`.
pub const EBADF: i32 = 9;
/// Linux's `EAGAIN`.
pub const EAGAIN: i32 = 11;
/// Linux's `EINVAL`.
pub const EINVAL: i32 = 22;
/// Linux's `EPIPE`.
pub const EPIPE: i32 = 32;
/// Linux's `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;
/// Linux's `EADDRINUSE`.
pub const EADDRINUSE: i32 = 98;
/// Linux's `ECONNRESET`.
pub const ECONNRESET: i32 = 104;
/// Linux's `ENOBUFS`.
pub const ENOBUFS: i32 = 105;
/// Linux's `EISCONN`.
pub const EISCONN: i32 = 106;
/// Linux's `ENOTCONN`.
pub const ENOTCONN: i32 = 107;
/// Linux's `ETIMEDOUT`.
pub const ETIMEDOUT: i32 = 110;
/// Linux's `ECONNREFUSED`.
pub const ECONNREFUSED: i32 = 111;
/// Linux's `EALREADY`.
pub const EALREADY: i32 = 114;
/// Linux's `EINPROGRESS`.
pub const EINPROGRESS: i32 = 115;

/// The errnos a TCP socket call returns, Linux's numbers.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EINTR", 4),
    ("EBADF", EBADF),
    ("EAGAIN", EAGAIN),
    ("ENOMEM", 12),
    ("EFAULT", 14),
    ("EINVAL", EINVAL),
    ("EMFILE", 24),
    ("EPIPE", EPIPE),
    ("ENOPROTOOPT", 92),
    ("EOPNOTSUPP", EOPNOTSUPP),
    ("EADDRINUSE", EADDRINUSE),
    ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101),
    ("ECONNABORTED", 103),
    ("ECONNRESET", ECONNRESET),
    ("ENOBUFS", ENOBUFS),
    ("EISCONN", EISCONN),
    ("ENOTCONN", ENOTCONN),
    ("ETIMEDOUT", ETIMEDOUT),
    ("ECONNREFUSED", ECONNREFUSED),
    ("EHOSTUNREACH", 113),
    ("EALREADY", EALREADY),
    ("EINPROGRESS", EINPROGRESS),
];

/// The name of errno `n` (`EAGAIN`), or its number (0 for none).
pub fn errno_name(n: i32) -> String {
    if n == 0 {
        return "0".into();
    }
    ERRNOS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or_else(|| format!("errno {n}"), |(name, _)| (*name).to_string())
}

/// The number of the errno named `name`. `EWOULDBLOCK` is `EAGAIN`.
pub fn errno_value(name: &str) -> Option<i32> {
    let name = if name == "EWOULDBLOCK" {
        "EAGAIN"
    } else {
        name
    };
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// `name(result)` as a script writes it: `= 3`, `= -1 EAGAIN`.
pub fn show_ret(ret: &Ret) -> String {
    match ret {
        Ok(v) => v.to_string(),
        Err(e) => format!("-1 {}", errno_name(*e)),
    }
}

/// Why a call line cannot be made: a feature the runner does not have (the script is
/// skipped), or an argument that is wrong (the script is malformed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotACall {
    /// The script needs this; it is skipped, naming it.
    Unsupported(String),
    /// The call is malformed here.
    Bad(Pos, String),
}

fn arg(line: &CallLine, i: usize) -> Result<&(Expr, Pos), NotACall> {
    line.args.get(i).ok_or_else(|| {
        NotACall::Bad(
            line.pos,
            format!("{} needs at least {} arguments", line.name, i + 1),
        )
    })
}

fn int_arg(line: &CallLine, i: usize, what: &str) -> Result<i64, NotACall> {
    let (e, pos) = arg(line, i)?;
    e.int().ok_or_else(|| {
        NotACall::Bad(
            *pos,
            format!("{} expects {what} here, not `{e}`", line.name),
        )
    })
}

fn name_arg<'a>(line: &'a CallLine, i: usize, what: &str) -> Result<&'a str, NotACall> {
    let (e, pos) = arg(line, i)?;
    match e {
        Expr::Name(n) => Ok(n),
        _ => Err(NotACall::Bad(
            *pos,
            format!("{} expects {what} here, not `{e}`", line.name),
        )),
    }
}

/// A length argument: a number up to 1 MiB, or `...` for "as many as the script says it
/// returns".
fn len_arg(line: &CallLine, i: usize) -> Result<usize, NotACall> {
    let (e, pos) = arg(line, i)?;
    match e {
        Expr::Ellipsis => line
            .ret
            .int()
            .and_then(|v| usize::try_from(v).ok())
            .filter(|v| *v <= 1 << 20)
            .ok_or_else(|| {
                NotACall::Bad(
                    *pos,
                    "a length of `...` needs a return value of at most 1 MiB".into(),
                )
            }),
        _ => int_arg(line, i, "a length").and_then(|v| {
            usize::try_from(v)
                .ok()
                .filter(|v| *v <= 1 << 20)
                .ok_or_else(|| NotACall::Bad(*pos, format!("length {v} out of range")))
        }),
    }
}

/// The names of every flag in an `A|B|C` expression.
fn flag_names(e: &Expr) -> Vec<&str> {
    match e {
        Expr::Name(n) => vec![n.as_str()],
        Expr::Or(v) => v.iter().flat_map(flag_names).collect(),
        _ => Vec::new(),
    }
}

/// The port a `bind` names (`{sin_port=htons(8080)}`), if it names one.
fn port_in(e: &Expr) -> Option<u16> {
    match e {
        Expr::Field(n, v) if n == "sin_port" => port_in(v).or_else(|| match &**v {
            Expr::Int(p) => u16::try_from(*p).ok(),
            _ => None,
        }),
        Expr::Field(n, v) if n == "htons" => match &**v {
            Expr::List(l) => l
                .first()
                .and_then(Expr::int)
                .and_then(|p| u16::try_from(p).ok()),
            _ => None,
        },
        Expr::Struct(v) | Expr::List(v) => v.iter().find_map(port_in),
        _ => None,
    }
}

/// The port a `bind(fd, ..., ...)` takes when the script does not name one, as packetdrill's.
pub const DEFAULT_PORT: u16 = 8080;

/// Makes a call line concrete.
pub fn call(line: &CallLine) -> Result<Call, NotACall> {
    let unsupported = |what: String| Err(NotACall::Unsupported(what));
    let fd = || int_arg(line, 0, "a file descriptor");
    match line.name.as_str() {
        "socket" => {
            let domain = &arg(line, 0)?.0;
            if let Expr::Name(d) = domain {
                if d == "AF_INET6" || d == "PF_INET6" {
                    return unsupported("IPv6 (AF_INET6)".into());
                }
            }
            match &arg(line, 1)?.0 {
                Expr::Name(t) if t == "SOCK_STREAM" => Ok(Call::Socket),
                t => unsupported(format!("socket type {t}")),
            }
        }
        "bind" => Ok(Call::Bind {
            fd: fd()?,
            port: port_in(&arg(line, 1)?.0).unwrap_or(DEFAULT_PORT),
        }),
        "listen" => Ok(Call::Listen {
            fd: fd()?,
            backlog: int_arg(line, 1, "a backlog")?,
        }),
        "accept" | "accept4" => Ok(Call::Accept { fd: fd()? }),
        "connect" => Ok(Call::Connect { fd: fd()? }),
        "write" => Ok(Call::Write {
            fd: fd()?,
            len: len_arg(line, 2)?,
        }),
        "send" | "sendto" => {
            if let Some((e, _)) = line.args.get(3) {
                if flag_names(e).contains(&"MSG_FASTOPEN") {
                    return unsupported("TCP Fast Open (MSG_FASTOPEN)".into());
                }
                if e.int() != Some(0) && !matches!(e, Expr::Ellipsis) {
                    return unsupported(format!("{} flags {e}", line.name));
                }
            }
            Ok(Call::Write {
                fd: fd()?,
                len: len_arg(line, 2)?,
            })
        }
        "read" => Ok(Call::Read {
            fd: fd()?,
            len: len_arg(line, 2)?,
        }),
        "recv" | "recvfrom" => {
            if let Some((e, _)) = line.args.get(3) {
                if e.int() != Some(0) && !matches!(e, Expr::Ellipsis) {
                    return unsupported(format!("{} flags {e}", line.name));
                }
            }
            Ok(Call::Read {
                fd: fd()?,
                len: len_arg(line, 2)?,
            })
        }
        "close" => Ok(Call::Close { fd: fd()? }),
        "shutdown" => {
            let how = match name_arg(line, 1, "SHUT_RD, SHUT_WR or SHUT_RDWR")? {
                "SHUT_RD" => Shut::Read,
                "SHUT_WR" => Shut::Write,
                "SHUT_RDWR" => Shut::Both,
                other => {
                    return Err(NotACall::Bad(
                        arg(line, 1)?.1,
                        format!("shutdown's how is SHUT_RD, SHUT_WR or SHUT_RDWR, not {other}"),
                    ))
                }
            };
            Ok(Call::Shutdown { fd: fd()?, how })
        }
        "setsockopt" => {
            let level = name_arg(line, 1, "a level")?;
            let name = name_arg(line, 2, "an option name")?;
            let opt = match (level, name) {
                ("SOL_SOCKET", "SO_REUSEADDR") => SockOpt::ReuseAddr,
                ("IPPROTO_TCP" | "SOL_TCP", "TCP_NODELAY") => SockOpt::NoDelay,
                (level, name) => return unsupported(format!("socket option {level} {name}")),
            };
            Ok(Call::SetOption {
                fd: fd()?,
                opt,
                value: int_arg(line, 3, "the option's value")?,
            })
        }
        "getsockopt" => {
            let level = name_arg(line, 1, "a level")?;
            let name = name_arg(line, 2, "an option name")?;
            if (level, name) != ("SOL_SOCKET", "SO_ERROR") {
                return unsupported(format!("socket option {level} {name}"));
            }
            Ok(Call::GetError { fd: fd()? })
        }
        "fcntl" => match name_arg(line, 1, "F_SETFL or F_GETFL")? {
            "F_SETFL" => {
                let flags = flag_names(&arg(line, 2)?.0);
                Ok(Call::SetNonBlocking {
                    fd: fd()?,
                    on: flags.contains(&"O_NONBLOCK"),
                })
            }
            "F_GETFL" => Ok(Call::GetFlags { fd: fd()? }),
            other => unsupported(format!("fcntl {other}")),
        },
        other => unsupported(format!("system call {other}")),
    }
}

/// The value a script expects a call to return, made concrete: a number, `-1` with the
/// errno it names, or (for `getsockopt`) the value in brackets it expects.
pub fn expected(line: &CallLine) -> Result<Ret, NotACall> {
    let value = match &line.ret {
        Expr::Int(v) => *v,
        e => {
            return Err(NotACall::Bad(
                line.ret_pos,
                format!("a return value is a number, not `{e}`"),
            ))
        }
    };
    match (&line.errno, value) {
        (Some(name), -1) => errno_value(name).map(Err).ok_or_else(|| {
            NotACall::Bad(
                line.ret_pos,
                format!("{name} is not an errno this runner knows"),
            )
        }),
        (Some(name), _) => Err(NotACall::Bad(
            line.ret_pos,
            format!("{name} follows a return value of -1 only"),
        )),
        (None, v) => Ok(Ok(v)),
    }
}

/// For `getsockopt(fd, SOL_SOCKET, SO_ERROR, [value], ...)`: the error the script expects
/// (0, or an errno by name or number).
pub fn expected_so_error(line: &CallLine) -> Result<i32, NotACall> {
    let (e, pos) = arg(line, 3)?;
    let inner = match e {
        Expr::List(v) if v.len() == 1 => &v[0],
        e => e,
    };
    match inner {
        Expr::Int(n) => {
            i32::try_from(*n).map_err(|_| NotACall::Bad(*pos, "errno too large".into()))
        }
        Expr::Name(n) => errno_value(n)
            .ok_or_else(|| NotACall::Bad(*pos, format!("{n} is not an errno this runner knows"))),
        e => Err(NotACall::Bad(
            *pos,
            format!("SO_ERROR's value is [0] or [ERRNO], not `{e}`"),
        )),
    }
}
