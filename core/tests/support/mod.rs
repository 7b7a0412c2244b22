//! Shared proptest strategies and an independent byte builder for the wire tests.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;
use synack_core::wire::{tcp, Flags, Ipv4Header, SackBlock, TcpHeader, TcpOption};
use synack_core::SeqNum;

/// An owned packet: the parts of a `Packet` with the payload held.
#[derive(Clone, Debug)]
pub struct OwnedPacket {
    pub ip: Ipv4Header,
    pub tcp: TcpHeader,
    pub payload: Vec<u8>,
}

impl OwnedPacket {
    pub fn packet(&self) -> synack_core::wire::Packet<'_> {
        synack_core::wire::Packet {
            ip: self.ip.clone(),
            tcp: self.tcp.clone(),
            payload: &self.payload,
        }
    }
}

pub fn sack_block() -> impl Strategy<Value = SackBlock> {
    (any::<u32>(), any::<u32>()).prop_map(|(l, r)| SackBlock {
        left: SeqNum(l),
        right: SeqNum(r),
    })
}

/// Options etherparse can also represent (no unknown kinds).
pub fn known_option() -> impl Strategy<Value = TcpOption> {
    prop_oneof![
        Just(TcpOption::Nop),
        any::<u16>().prop_map(TcpOption::Mss),
        any::<u8>().prop_map(TcpOption::WindowScale),
        Just(TcpOption::SackPermitted),
        vec(sack_block(), 1..=4).prop_map(TcpOption::Sack),
        (any::<u32>(), any::<u32>())
            .prop_map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }),
    ]
}

pub fn any_option() -> impl Strategy<Value = TcpOption> {
    prop_oneof![
        4 => known_option(),
        1 => (6u8..=255, vec(any::<u8>(), 0..=12))
            .prop_filter("kind 8 is timestamps", |(k, _)| *k != 8)
            .prop_map(|(kind, data)| TcpOption::Unknown { kind, data }),
    ]
}

fn fits(options: &[TcpOption]) -> bool {
    synack_core::wire::options::options_len(options) <= tcp::MAX_OPTIONS_LEN
}

pub fn options_from(
    option: impl Strategy<Value = TcpOption>,
) -> impl Strategy<Value = Vec<TcpOption>> {
    vec(option, 0..8).prop_filter("options fit in 40 bytes", |o| fits(o))
}

pub fn ipv4_header() -> impl Strategy<Value = Ipv4Header> {
    (
        any::<u8>(),
        any::<u16>(),
        any::<(bool, bool)>(),
        any::<u8>(),
        any::<(u32, u32)>(),
        vec(any::<[u8; 4]>(), 0..=10),
    )
        .prop_map(
            |(dscp_ecn, identification, (reserved_flag, dont_fragment), ttl, (s, d), words)| {
                Ipv4Header {
                    dscp_ecn,
                    identification,
                    reserved_flag,
                    dont_fragment,
                    ttl,
                    src: Ipv4Addr::from(s),
                    dst: Ipv4Addr::from(d),
                    options: words.concat(),
                }
            },
        )
}

pub fn tcp_header(
    options: impl Strategy<Value = Vec<TcpOption>>,
) -> impl Strategy<Value = TcpHeader> {
    (
        any::<(u16, u16, u32, u32)>(),
        0u8..16,
        any::<u8>(),
        any::<(u16, u16)>(),
        options,
        0u8..=10,
    )
        .prop_map(
            |((sp, dp, seq, ack), reserved, flags, (window, urgent), options, extra)| {
                let mut h = TcpHeader::new(
                    sp,
                    dp,
                    SeqNum(seq),
                    SeqNum(ack),
                    Flags::from_bits_retain(flags),
                )
                .with_options(options);
                h.reserved = reserved;
                h.window = window;
                h.urgent = urgent;
                // Any data offset that holds the options: extra words are zero padding.
                h.data_offset = (h.data_offset + extra).min(15);
                h
            },
        )
}

pub fn packet_with(
    options: impl Strategy<Value = Vec<TcpOption>>,
) -> impl Strategy<Value = OwnedPacket> {
    (ipv4_header(), tcp_header(options), vec(any::<u8>(), 0..300))
        .prop_map(|(ip, tcp, payload)| OwnedPacket { ip, tcp, payload })
}

/// The Internet checksum, written out again here so that the byte builder below does not share
/// code with the implementation it checks.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
        sum += word;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Raw encodings of options, assembled byte by byte.
pub fn raw_option() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![1u8]),
        any::<[u8; 2]>().prop_map(|m| vec![2, 4, m[0], m[1]]),
        any::<u8>().prop_map(|s| vec![3, 3, s]),
        Just(vec![4, 2]),
        vec(any::<[u8; 8]>(), 1..=4).prop_map(|blocks| {
            let mut v = vec![5, 2 + 8 * blocks.len() as u8];
            v.extend(blocks.concat());
            v
        }),
        any::<[u8; 8]>().prop_map(|t| {
            let mut v = vec![8, 10];
            v.extend(t);
            v
        }),
        (6u8..=255, vec(any::<u8>(), 0..=12))
            .prop_filter("kind 8 is timestamps", |(k, _)| *k != 8)
            .prop_map(|(k, data)| {
                let mut v = vec![k, 2 + data.len() as u8];
                v.extend(data);
                v
            }),
    ]
}

/// Fields for a hand-assembled packet.
#[derive(Clone, Debug)]
pub struct RawSpec {
    pub tos: u8,
    pub id: u16,
    pub flags3: u8,
    pub ttl: u8,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ip_options: Vec<u8>,
    pub ports: (u16, u16),
    pub seq: u32,
    pub ack: u32,
    pub reserved: u8,
    pub control: u8,
    pub window: u16,
    pub urgent: u16,
    /// Option bytes, already terminated and zero-padded to a multiple of 4.
    pub tcp_options: Vec<u8>,
    pub payload: Vec<u8>,
}

pub fn raw_spec() -> impl Strategy<Value = RawSpec> {
    let ip = (
        any::<(u8, u16)>(),
        0u8..8,
        any::<u8>(),
        any::<([u8; 4], [u8; 4])>(),
        vec(any::<[u8; 4]>(), 0..=10),
    );
    let tcp = (
        any::<(u16, u16, u32, u32)>(),
        0u8..16,
        any::<(u8, u16, u16)>(),
        vec(raw_option(), 0..6),
        any::<bool>(),
        0usize..3,
        vec(any::<u8>(), 0..300),
    );
    (ip, tcp).prop_filter_map(
        "options fit",
        |(
            ((tos, id), flags3, ttl, (src, dst), ipw),
            (ports4, reserved, (control, window, urgent), opts, eol, pad_words, payload),
        )| {
            // MF (the lowest of the three flag bits) would make this a fragment.
            let flags3 = flags3 & 0b110;
            let mut tcp_options: Vec<u8> = opts.concat();
            if eol {
                tcp_options.push(0);
            }
            while tcp_options.len() % 4 != 0 {
                tcp_options.push(0);
            }
            // Whole zero words after the options are padding (the first zero reads as EOL).
            tcp_options.extend(std::iter::repeat_n(0, 4 * pad_words));
            if tcp_options.len() > 40 {
                return None;
            }
            let (sp, dp, seq, ack) = ports4;
            Some(RawSpec {
                tos,
                id,
                flags3,
                ttl,
                src,
                dst,
                ip_options: ipw.concat(),
                ports: (sp, dp),
                seq,
                ack,
                reserved,
                control,
                window,
                urgent,
                tcp_options,
                payload,
            })
        },
    )
}

/// Assembles the bytes of a packet from `spec`, field by field, with correct checksums.
pub fn assemble(spec: &RawSpec) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend(spec.ports.0.to_be_bytes());
    tcp.extend(spec.ports.1.to_be_bytes());
    tcp.extend(spec.seq.to_be_bytes());
    tcp.extend(spec.ack.to_be_bytes());
    let doff = (20 + spec.tcp_options.len()) / 4;
    tcp.push((doff as u8) << 4 | spec.reserved);
    tcp.push(spec.control);
    tcp.extend(spec.window.to_be_bytes());
    tcp.extend([0, 0]);
    tcp.extend(spec.urgent.to_be_bytes());
    tcp.extend(&spec.tcp_options);
    tcp.extend(&spec.payload);
    let mut pseudo = Vec::new();
    pseudo.extend(spec.src);
    pseudo.extend(spec.dst);
    pseudo.extend([0, 6]);
    pseudo.extend((tcp.len() as u16).to_be_bytes());
    pseudo.extend(&tcp);
    let sum = internet_checksum(&pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());

    let ihl = (20 + spec.ip_options.len()) / 4;
    let total = ihl * 4 + tcp.len();
    let mut ip = vec![0x40 | ihl as u8, spec.tos];
    ip.extend((total as u16).to_be_bytes());
    ip.extend(spec.id.to_be_bytes());
    ip.extend((u16::from(spec.flags3) << 13).to_be_bytes());
    ip.push(spec.ttl);
    ip.push(6);
    ip.extend([0, 0]);
    ip.extend(spec.src);
    ip.extend(spec.dst);
    ip.extend(&spec.ip_options);
    let sum = internet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend(tcp);
    ip
}
