//! smoltcp in the simulator, against synack-core and against itself.
#![cfg(feature = "smoltcp")]

use synack::sim::faults::Profile as Faults;
use synack::sim::stack::TcpStack;
use synack::sim::workload::Kind;
use synack::sim::{self, RunSpec, ADDRS};
use synack::smol::SmolStack;
use synack::trace::TraceOptions;
use synack_core::Config;

fn pair(
    client_smol: bool,
    server_smol: bool,
) -> impl Fn(usize, Config, [u8; 16]) -> Box<dyn TcpStack> {
    move |host, config, key| {
        let smol = if host == 0 { client_smol } else { server_smol };
        if smol {
            Box::new(SmolStack::new(ADDRS[host], key))
        } else {
            sim::core_stack(host, config, key)
        }
    }
}

#[test]
fn bulk_transfers_between_core_and_smoltcp() {
    for (c, s) in [(true, false), (false, true), (true, true)] {
        for seed in 0..6 {
            for faults in [Faults::None, Faults::Lossy] {
                let spec = RunSpec {
                    workload: Some(Kind::Bulk),
                    max_bytes: 100_000,
                    ..RunSpec::new(seed, faults)
                };
                let r = sim::run_with(&spec, &TraceOptions::default(), &pair(c, s)).unwrap();
                assert_eq!(
                    r.failure.map(|f| f.to_string()),
                    None,
                    "client smoltcp {c}, server smoltcp {s}, seed {seed}, {faults}"
                );
            }
        }
    }
}
