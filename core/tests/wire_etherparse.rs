//! Cross-check against an independent implementation: packets built by etherparse parse with
//! ours to the same fields, and packets emitted by ours parse with etherparse to the same fields
//! with checksums etherparse agrees with.

mod support;

use std::net::Ipv4Addr;

use etherparse::{IpDscp, IpEcn, IpNumber, TcpOptionElement};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use support::{known_option, options_from, packet_with};
use synack_core::wire::{Flags, Packet, SackBlock, TcpOption};
use synack_core::SeqNum;

/// Our option as etherparse's element.
fn to_etherparse(option: &TcpOption) -> TcpOptionElement {
    match option {
        TcpOption::Nop => TcpOptionElement::Noop,
        TcpOption::Mss(m) => TcpOptionElement::MaximumSegmentSize(*m),
        TcpOption::WindowScale(s) => TcpOptionElement::WindowScale(*s),
        TcpOption::SackPermitted => TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOption::Sack(blocks) => {
            let pair = |b: &SackBlock| (b.left.0, b.right.0);
            let mut rest = [None; 3];
            for (slot, b) in rest.iter_mut().zip(&blocks[1..]) {
                *slot = Some(pair(b));
            }
            TcpOptionElement::SelectiveAcknowledgement(pair(&blocks[0]), rest)
        }
        TcpOption::Timestamps { tsval, tsecr } => TcpOptionElement::Timestamp(*tsval, *tsecr),
        other => panic!("etherparse has no element for {other:?}"),
    }
}

fn flags_of(h: &etherparse::TcpHeader) -> Flags {
    let bits = [
        (h.cwr, Flags::CWR),
        (h.ece, Flags::ECE),
        (h.urg, Flags::URG),
        (h.ack, Flags::ACK),
        (h.psh, Flags::PSH),
        (h.rst, Flags::RST),
        (h.syn, Flags::SYN),
        (h.fin, Flags::FIN),
    ];
    bits.into_iter()
        .filter(|(set, _)| *set)
        .fold(Flags::empty(), |acc, (_, f)| acc | f)
}

/// Packets that etherparse can represent: known options only, the IPv4 reserved flag clear, and
/// of the four reserved TCP bits only the lowest, which etherparse models as NS. etherparse
/// drops the bits it does not model, so it would compute other checksums for them.
fn etherparse_packet() -> impl Strategy<Value = support::OwnedPacket> {
    packet_with(options_from(known_option())).prop_map(|mut p| {
        p.tcp.reserved &= 1;
        p.ip.reserved_flag = false;
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/wire_etherparse.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Ours emits, etherparse parses: every field agrees and both checksums verify.
    #[test]
    fn etherparse_reads_what_we_emit(p in etherparse_packet()) {
        let bytes = p.packet().to_bytes().expect("emittable");
        let (ip, rest) = etherparse::Ipv4Header::from_slice(&bytes).expect("etherparse parses our IPv4");
        prop_assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        prop_assert_eq!(Ipv4Addr::from(ip.source), p.ip.src);
        prop_assert_eq!(Ipv4Addr::from(ip.destination), p.ip.dst);
        prop_assert_eq!(ip.time_to_live, p.ip.ttl);
        prop_assert_eq!(ip.identification, p.ip.identification);
        prop_assert_eq!(ip.dont_fragment, p.ip.dont_fragment);
        prop_assert!(!ip.more_fragments);
        prop_assert_eq!((ip.dscp.value() << 2) | ip.ecn.value(), p.ip.dscp_ecn);
        prop_assert_eq!(ip.protocol, IpNumber::TCP);
        prop_assert_eq!(ip.options.as_slice(), &p.ip.options[..]);
        prop_assert_eq!(usize::from(ip.total_len), bytes.len());

        let (tcp, payload) = etherparse::TcpHeader::from_slice(rest).expect("etherparse parses our TCP");
        prop_assert_eq!(payload, &p.payload[..]);
        prop_assert_eq!(tcp.checksum, tcp.calc_checksum_ipv4(&ip, payload).expect("fits"));
        prop_assert_eq!((tcp.source_port, tcp.destination_port), (p.tcp.src_port, p.tcp.dst_port));
        prop_assert_eq!(tcp.sequence_number, p.tcp.seq.0);
        prop_assert_eq!(tcp.acknowledgment_number, p.tcp.ack.0);
        prop_assert_eq!(tcp.data_offset(), p.tcp.data_offset);
        prop_assert_eq!(flags_of(&tcp), p.tcp.flags);
        // etherparse knows the lowest reserved bit as NS (RFC 3540, now historic).
        prop_assert_eq!(tcp.ns, p.tcp.reserved & 1 == 1);
        prop_assert_eq!(tcp.window_size, p.tcp.window);
        prop_assert_eq!(tcp.urgent_pointer, p.tcp.urgent);
        let theirs: Vec<TcpOptionElement> = tcp
            .options_iterator()
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("etherparse rejects our options: {e:?}")))?;
        let ours: Vec<TcpOptionElement> = p.tcp.options.iter().map(to_etherparse).collect();
        prop_assert_eq!(theirs, ours);
    }

    /// etherparse builds, ours parses: every field agrees.
    #[test]
    fn we_read_what_etherparse_emits(p in etherparse_packet()) {
        let mut ip = etherparse::Ipv4Header::new(0, p.ip.ttl, IpNumber::TCP, p.ip.src.octets(), p.ip.dst.octets())
            .expect("header");
        ip.identification = p.ip.identification;
        ip.dont_fragment = p.ip.dont_fragment;
        ip.dscp = IpDscp::try_new(p.ip.dscp_ecn >> 2).expect("6 bits");
        ip.ecn = IpEcn::try_new(p.ip.dscp_ecn & 3).expect("2 bits");
        ip.options = p.ip.options[..].try_into().expect("options fit");

        let mut tcp = etherparse::TcpHeader::new(p.tcp.src_port, p.tcp.dst_port, p.tcp.seq.0, p.tcp.window);
        tcp.acknowledgment_number = p.tcp.ack.0;
        let f = p.tcp.flags;
        (tcp.cwr, tcp.ece, tcp.urg, tcp.ack) =
            (f.contains(Flags::CWR), f.contains(Flags::ECE), f.contains(Flags::URG), f.contains(Flags::ACK));
        (tcp.psh, tcp.rst, tcp.syn, tcp.fin) =
            (f.contains(Flags::PSH), f.contains(Flags::RST), f.contains(Flags::SYN), f.contains(Flags::FIN));
        tcp.urgent_pointer = p.tcp.urgent;
        tcp.ns = p.tcp.reserved & 1 == 1;
        let elements: Vec<TcpOptionElement> = p.tcp.options.iter().map(to_etherparse).collect();
        tcp.set_options(&elements).expect("options fit");
        tcp.checksum = tcp.calc_checksum_ipv4(&ip, &p.payload).expect("fits");
        ip.set_payload_len(tcp.header_len() + p.payload.len()).expect("fits");
        ip.header_checksum = ip.calc_header_checksum();

        let mut bytes = Vec::new();
        ip.write(&mut bytes).expect("write ip");
        tcp.write(&mut bytes).expect("write tcp");
        bytes.extend_from_slice(&p.payload);

        let ours = Packet::parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(ours.ip.src, p.ip.src);
        prop_assert_eq!(ours.ip.dst, p.ip.dst);
        prop_assert_eq!(ours.ip.ttl, p.ip.ttl);
        prop_assert_eq!(ours.ip.identification, p.ip.identification);
        prop_assert_eq!(ours.ip.dont_fragment, p.ip.dont_fragment);
        prop_assert_eq!(ours.ip.dscp_ecn, p.ip.dscp_ecn);
        prop_assert_eq!(&ours.ip.options, &p.ip.options);
        prop_assert_eq!((ours.tcp.src_port, ours.tcp.dst_port), (p.tcp.src_port, p.tcp.dst_port));
        prop_assert_eq!(ours.tcp.seq, p.tcp.seq);
        prop_assert_eq!(ours.tcp.ack, p.tcp.ack);
        prop_assert_eq!(ours.tcp.flags, p.tcp.flags);
        prop_assert_eq!(ours.tcp.reserved, p.tcp.reserved);
        prop_assert_eq!(ours.tcp.window, p.tcp.window);
        prop_assert_eq!(ours.tcp.urgent, p.tcp.urgent);
        prop_assert_eq!(ours.tcp.data_offset, tcp.data_offset());
        prop_assert_eq!(&ours.tcp.options, &p.tcp.options);
        prop_assert_eq!(ours.payload, &p.payload[..]);
    }
}

#[test]
fn a_handshake_syn_agrees_field_by_field() {
    // A fixed case that reads like a packet capture, beside the generated ones.
    let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 0xdead_beef, 65535)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .expect("options fit");
    let mut bytes = Vec::new();
    builder.write(&mut bytes, &[]).expect("write");
    let p = Packet::parse(&bytes).expect("valid");
    assert_eq!(p.tcp.seq, SeqNum(0xdead_beef));
    assert_eq!(p.tcp.flags, Flags::SYN);
    assert_eq!(
        p.tcp.options,
        vec![
            TcpOption::Mss(1460),
            TcpOption::Nop,
            TcpOption::WindowScale(7)
        ]
    );
    assert_eq!(p.to_bytes().expect("emittable"), bytes);
}
