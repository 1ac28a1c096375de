//! Cross-implementation: RustCrypto `ml-kem` (used by pqcall) and `libcrux-ml-kem`
//! agree on key generation from a seed and on encapsulation both ways.

use libcrux_ml_kem::mlkem768;
use ml_kem::kem::Decapsulate;
use ml_kem::{B32, Ciphertext, DecapsulationKey, KeyExport, MlKem768, Seed};
use pqcall_crypto::hazmat;

fn seeds(i: u8) -> ([u8; 64], [u8; 32]) {
    let mut seed = [0u8; 64];
    let mut m = [0u8; 32];
    for (k, b) in seed.iter_mut().enumerate() {
        *b = (k as u8).wrapping_mul(31).wrapping_add(i);
    }
    for (k, b) in m.iter_mut().enumerate() {
        *b = (k as u8).wrapping_mul(17) ^ i;
    }
    (seed, m)
}

#[test]
fn same_seed_gives_same_encapsulation_key() {
    for i in 0..8 {
        let (seed, _) = seeds(i);
        let ours = DecapsulationKey::<MlKem768>::from_seed(Seed::from(seed));
        let theirs = mlkem768::generate_key_pair(seed);
        assert_eq!(
            ours.encapsulation_key().to_bytes().as_slice(),
            theirs.pk(),
            "seed {i}"
        );
        // And through pqcall's own API.
        let (_, offer) = hazmat::caller_start_seeded(&seed, [0; 32]);
        assert_eq!(&offer.ek()[..], theirs.pk());
    }
}

#[test]
fn libcrux_ciphertext_decapsulates_in_ml_kem() {
    for i in 0..8 {
        let (seed, m) = seeds(i);
        let theirs = mlkem768::generate_key_pair(seed);
        let (ct, ss) = mlkem768::encapsulate(theirs.public_key(), m);
        let ours = DecapsulationKey::<MlKem768>::from_seed(Seed::from(seed));
        let ct_ours = Ciphertext::<MlKem768>::try_from(ct.as_ref()).unwrap();
        assert_eq!(ours.decapsulate(&ct_ours).as_slice(), &ss[..], "seed {i}");
    }
}

#[test]
fn ml_kem_ciphertext_decapsulates_in_libcrux() {
    for i in 0..8 {
        let (seed, m) = seeds(i);
        let theirs = mlkem768::generate_key_pair(seed);
        // pqcall's callee step produces the ciphertext.
        let (_, offer) = hazmat::caller_start_seeded(&seed, [0; 32]);
        let (callee, answer) = hazmat::callee_answer_seeded(&offer, &m).unwrap();
        let ct = mlkem768::MlKem768Ciphertext::from(*answer.ct());
        let ss = mlkem768::decapsulate(theirs.private_key(), &ct);
        assert_eq!(
            &ss[..],
            &hazmat::callee_shared_secret(&callee)[..],
            "seed {i}"
        );
        // Same message, same ciphertext in both crates.
        let ours = DecapsulationKey::<MlKem768>::from_seed(Seed::from(seed));
        let (ct2, _) = ours
            .encapsulation_key()
            .encapsulate_deterministic(&B32::from(m));
        let (ct3, _) = mlkem768::encapsulate(theirs.public_key(), m);
        assert_eq!(ct2.as_slice(), ct3.as_ref());
    }
}
