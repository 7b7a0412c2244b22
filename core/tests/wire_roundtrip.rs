//! Round trips through the wire codec, and known packets with hand-computed checksums.

mod support;

use std::net::Ipv4Addr;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use support::{any_option, assemble, options_from, packet_with, raw_spec};
use synack_core::wire::{Flags, Ipv4Header, Packet, TcpHeader, TcpOption, WireError};
use synack_core::SeqNum;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/wire_roundtrip.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Emitting then parsing gives back the same header, options and payload.
    #[test]
    fn emit_then_parse_returns_the_fields(p in packet_with(options_from(any_option()))) {
        let bytes = p.packet().to_bytes().expect("generated packets are emittable");
        let parsed = Packet::parse(&bytes).expect("emitted packets parse");
        prop_assert_eq!(parsed, p.packet());
    }

    /// Parsing then re-emitting any valid packet gives the same bytes. The packets are
    /// assembled byte by byte by the test, not by the emitter under test.
    #[test]
    fn parse_then_emit_returns_the_bytes(spec in raw_spec()) {
        let bytes = assemble(&spec);
        let parsed = Packet::parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(parsed.payload, &spec.payload[..]);
        prop_assert_eq!(parsed.to_bytes().expect("parsed packets are emittable"), bytes);
    }

    /// Any bytes at all: parsing returns a value or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = Packet::parse(&bytes);
    }

    /// Flipping any one bit of a valid packet is caught by a checksum or a header check.
    #[test]
    fn single_bit_flips_are_rejected(spec in raw_spec(), bit in any::<prop::sample::Index>()) {
        let mut bytes = assemble(&spec);
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        prop_assert!(Packet::parse(&bytes).is_err(), "flip of bit {} accepted", i);
    }
}

/// A SYN from 192.0.2.1:1234 to 192.0.2.2:80, seq 100, window 8192, MSS 1460.
///
/// IPv4 header sum: 4500 + 002c + 0000 + 4000 + 4006 + c000 + 0201 + c000 + 0202 = 0x24935,
/// folded 0x4935 + 0x2 = 0x4937, complemented 0xb6c8.
/// TCP sum: pseudo-header c000 + 0201 + c000 + 0202 + 0006 + 0018 = 0x18421; segment
/// 04d2 + 0050 + 0064 + 6002 + 2000 + 0204 + 05b4 = 0x8d40; total 0x21161, folded 0x1163,
/// complemented 0xee9c.
const SYN_WITH_MSS: [u8; 44] = [
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xb6, 0xc8, 192, 0, 2, 1, 192, 0,
    2, 2, // IPv4
    0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 100, 0, 0, 0, 0, 0x60, 0x02, 0x20, 0x00, 0xee, 0x9c, 0, 0,
    0x02, 0x04, 0x05, 0xb4, // TCP, MSS option
];

/// An ACK with three data bytes "abc" from 192.0.2.2:80 to 192.0.2.1:1234, seq 300, ack 101,
/// window 4096, PSH, IP id 0x1234. The odd byte count exercises the zero pad of RFC 9293 §3.1.
///
/// IPv4 header sum: 4500 + 002b + 1234 + 4000 + 4006 + c000 + 0202 + c000 + 0201 = 0x25b68,
/// folded 0x5b6a, complemented 0xa495.
/// TCP sum: pseudo-header c000 + 0202 + c000 + 0201 + 0006 + 0017 = 0x18420; segment
/// 0050 + 04d2 + 012c + 0065 + 5018 + 1000 + 6162 + 6300 = 0x12b2d; total 0x2af4d, folded
/// 0xaf4f, complemented 0x50b0.
const DATA_ODD_LENGTH: [u8; 43] = [
    0x45, 0x00, 0x00, 0x2b, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xa4, 0x95, 192, 0, 2, 2, 192, 0,
    2, 1, // IPv4
    0x00, 0x50, 0x04, 0xd2, 0, 0, 0x01, 0x2c, 0, 0, 0, 0x65, 0x50, 0x18, 0x10, 0x00, 0x50, 0xb0, 0,
    0, b'a', b'b', b'c',
];

fn a() -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 1)
}

fn b() -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 2)
}

#[test]
fn known_syn_parses_with_hand_computed_checksums() {
    let p = Packet::parse(&SYN_WITH_MSS).expect("valid");
    assert_eq!((p.ip.src, p.ip.dst, p.ip.ttl), (a(), b(), 64));
    assert!(p.ip.dont_fragment);
    assert_eq!((p.tcp.src_port, p.tcp.dst_port), (1234, 80));
    assert_eq!(p.tcp.seq, SeqNum(100));
    assert_eq!(p.tcp.flags, Flags::SYN);
    assert_eq!(p.tcp.data_offset, 6);
    assert_eq!(p.tcp.window, 8192);
    assert_eq!(p.tcp.options, vec![TcpOption::Mss(1460)]);
    assert!(p.payload.is_empty());
}

#[test]
fn known_syn_is_emitted_with_hand_computed_checksums() {
    let mut ip = Ipv4Header::new(a(), b());
    ip.identification = 0;
    let mut tcp = TcpHeader::new(1234, 80, SeqNum(100), SeqNum(0), Flags::SYN)
        .with_options(vec![TcpOption::Mss(1460)]);
    tcp.window = 8192;
    let bytes = Packet {
        ip,
        tcp,
        payload: &[],
    }
    .to_bytes()
    .expect("emittable");
    assert_eq!(bytes, SYN_WITH_MSS);
}

#[test]
fn odd_length_data_is_checksummed_with_a_zero_pad() {
    let p = Packet::parse(&DATA_ODD_LENGTH).expect("valid");
    assert_eq!(p.tcp.flags, Flags::ACK | Flags::PSH);
    assert_eq!((p.tcp.seq, p.tcp.ack), (SeqNum(300), SeqNum(101)));
    assert_eq!(p.payload, b"abc");
    assert_eq!(p.to_bytes().expect("emittable"), DATA_ODD_LENGTH);
}

#[test]
fn wrong_checksums_are_reported_with_the_expected_value() {
    let mut bytes = SYN_WITH_MSS;
    bytes[11] ^= 1;
    assert_eq!(
        Packet::parse(&bytes),
        Err(WireError::BadIpv4Checksum {
            found: 0xb6c9,
            expected: 0xb6c8
        })
    );
    let mut bytes = SYN_WITH_MSS;
    bytes[37] ^= 1;
    assert_eq!(
        Packet::parse(&bytes),
        Err(WireError::BadTcpChecksum {
            found: 0xee9d,
            expected: 0xee9c
        })
    );
}

/// Sets bytes of the IPv4 header and repairs its checksum, so that a later check is reached.
fn with_ip_bytes(edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = SYN_WITH_MSS.to_vec();
    for &(i, v) in edits {
        bytes[i] = v;
    }
    let ihl = usize::from(bytes[0] & 0xf) * 4;
    bytes[10] = 0;
    bytes[11] = 0;
    let sum = support::internet_checksum(&bytes[..ihl.min(bytes.len())]);
    bytes[10..12].copy_from_slice(&sum.to_be_bytes());
    bytes
}

#[test]
fn each_error_names_what_is_wrong() {
    assert_eq!(
        Packet::parse(&SYN_WITH_MSS[..19]),
        Err(WireError::Truncated {
            needed: 20,
            got: 19
        })
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(0, 0x65)])),
        Err(WireError::BadVersion(6))
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(0, 0x44)])),
        Err(WireError::BadIhl(4))
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(3, 45)])),
        Err(WireError::BadTotalLength {
            total_len: 45,
            header_len: 20,
            packet_len: 44
        })
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(9, 17)])),
        Err(WireError::NotTcp(17))
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(6, 0x20)])),
        Err(WireError::Fragment {
            offset: 0,
            more_fragments: true
        })
    );
    assert_eq!(
        Packet::parse(&with_ip_bytes(&[(6, 0x40), (7, 0x10)])),
        Err(WireError::Fragment {
            offset: 16,
            more_fragments: false
        })
    );
    // Data offset 4 is below the minimum; 7 runs past the 24-byte segment.
    for doff in [4u8, 7] {
        let mut bytes = SYN_WITH_MSS;
        bytes[32] = doff << 4;
        assert_eq!(
            Packet::parse(&bytes),
            Err(WireError::BadDataOffset {
                data_offset: doff,
                segment_len: 24
            })
        );
    }
    // An MSS option with length 3, with a checksum that is right for it.
    let mut ip = Ipv4Header::new(a(), b());
    ip.identification = 0;
    let mut tcp = TcpHeader::new(1234, 80, SeqNum(100), SeqNum(0), Flags::SYN).with_options(vec![
        TcpOption::Unknown {
            kind: 99,
            data: vec![0x05],
        },
    ]);
    tcp.window = 8192;
    let mut bytes = Packet {
        ip,
        tcp,
        payload: &[],
    }
    .to_bytes()
    .expect("emittable");
    bytes[40] = 2; // kind 99 becomes MSS, length 3: malformed
    bytes[36..38].copy_from_slice(&[0, 0]);
    let mut pseudo = vec![192, 0, 2, 1, 192, 0, 2, 2, 0, 6, 0, 24];
    pseudo.extend(&bytes[20..]);
    let sum = support::internet_checksum(&pseudo);
    bytes[36..38].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        Packet::parse(&bytes),
        Err(WireError::BadOption { kind: 2, offset: 0 })
    );
}

#[test]
fn link_layer_padding_after_total_length_is_ignored() {
    let mut bytes = DATA_ODD_LENGTH.to_vec();
    bytes.extend([0, 0, 0]);
    assert_eq!(Packet::parse(&bytes).expect("valid").payload, b"abc");
}

#[test]
fn emit_rejects_headers_that_cannot_exist() {
    let mut tcp = TcpHeader::new(1, 2, SeqNum(0), SeqNum(0), Flags::ACK)
        .with_options(vec![TcpOption::Mss(1)]);
    tcp.data_offset = 5; // too small for the option
    let ip = Ipv4Header::new(a(), b());
    let mut out = vec![7];
    let err = Packet {
        ip: ip.clone(),
        tcp,
        payload: &[],
    }
    .emit(&mut out);
    assert!(matches!(
        err,
        Err(WireError::BadDataOffset { data_offset: 5, .. })
    ));
    assert_eq!(out, vec![7], "a failed emit leaves the buffer as it was");

    let tcp = TcpHeader::new(1, 2, SeqNum(0), SeqNum(0), Flags::ACK);
    let big = vec![0u8; 65_536];
    assert!(matches!(
        Packet {
            ip: ip.clone(),
            tcp: tcp.clone(),
            payload: &big
        }
        .to_bytes(),
        Err(WireError::TooLong { .. })
    ));
    let mut odd = ip;
    odd.options = vec![1, 1, 1];
    assert!(matches!(
        Packet {
            ip: odd,
            tcp,
            payload: &[]
        }
        .to_bytes(),
        Err(WireError::BadIhl(_))
    ));
}
