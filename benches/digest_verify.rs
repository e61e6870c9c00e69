//! digest_verify_{md5,sha256}: parse an Authorization header and verify it against a stored
//! HA1, as the registrar does for every authenticated REGISTER.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::sip::digest::{ha1, write_challenge, Algorithm, Challenge, Credentials};

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("digest_verify");
    g.throughput(Throughput::Elements(1));
    for (name, alg) in [
        ("digest_verify_md5", Algorithm::Md5),
        ("digest_verify_sha256", Algorithm::Sha256),
    ] {
        let mut ch = String::new();
        write_challenge(
            &mut ch,
            "switchboard.example",
            "AAAAAGsEk1JGhDtvrsOR8rbZwvo",
            alg,
            false,
        );
        let header = Challenge::parse(&ch).unwrap().answer(
            "REGISTER",
            "sip:switchboard.example",
            "+82101234567",
            "correct horse",
            "0a4f113b",
            1,
        );
        let stored = ha1(alg, "+82101234567", "switchboard.example", "correct horse");
        g.bench_function(name, |b| {
            b.iter(|| {
                let c = Credentials::parse(black_box(&header)).unwrap();
                assert!(c.verify("REGISTER", &stored));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
