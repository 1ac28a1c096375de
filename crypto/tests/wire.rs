//! Base64 and length parsing of the `kem` fields, including property tests.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use pqcall_crypto::wire::{self, CT_LEN, EK_LEN};
use pqcall_crypto::{AnswerKem, CallerConfirm, Error, Field, OfferKem};
use proptest::prelude::*;

const FIELDS: [Field; 5] = [
    Field::Ek,
    Field::Ct,
    Field::Commit,
    Field::Nonce,
    Field::Tag,
];

#[test]
fn lengths_match_the_brief() {
    assert_eq!(wire::expected_len(Field::Ek), 1184);
    assert_eq!(wire::expected_len(Field::Ct), 1088);
    for f in [Field::Commit, Field::Nonce, Field::Tag] {
        assert_eq!(wire::expected_len(f), 32);
    }
}

#[test]
fn refusals_name_the_field_and_the_reason() {
    assert_eq!(
        wire::check(Field::Tag, "not base64!"),
        Err(Error::BadBase64(Field::Tag))
    );
    assert_eq!(
        wire::check(Field::Commit, &STANDARD.encode([0u8; 31])),
        Err(Error::BadLength {
            field: Field::Commit,
            expected: 32,
            actual: 31
        })
    );
    // Unpadded, URL-safe and whitespace-wrapped encodings are not the standard form.
    assert_eq!(
        wire::check(Field::Nonce, &STANDARD_NO_PAD.encode([0u8; 32])),
        Err(Error::BadBase64(Field::Nonce))
    );
    let urlsafe = URL_SAFE.encode([0xfbu8; 32]);
    assert!(urlsafe.contains('-') || urlsafe.contains('_'));
    assert_eq!(
        wire::check(Field::Nonce, &urlsafe),
        Err(Error::BadBase64(Field::Nonce))
    );
    let wrapped = format!(" {}", STANDARD.encode([0u8; 32]));
    assert_eq!(
        wire::check(Field::Tag, &wrapped),
        Err(Error::BadBase64(Field::Tag))
    );
    assert!(matches!(
        OfferKem::from_wire(&STANDARD.encode([0u8; EK_LEN]), "x"),
        Err(Error::BadBase64(Field::Commit))
    ));
    assert!(matches!(
        AnswerKem::from_wire(&STANDARD.encode([0u8; EK_LEN])),
        Err(Error::BadLength {
            field: Field::Ct,
            ..
        })
    ));
    assert!(matches!(
        CallerConfirm::from_wire(&STANDARD.encode([0u8; 32]), ""),
        Err(Error::BadLength {
            field: Field::Tag,
            actual: 0,
            ..
        })
    ));
}

#[test]
fn non_canonical_trailing_bits_are_refused_by_check() {
    // 32 bytes encode to 43 symbols + '='; the last symbol carries 2 unused bits.
    let mut s = STANDARD.encode([0u8; 32]).into_bytes();
    assert_eq!(s[42], b'A');
    s[42] = b'B'; // unused bit set
    let s = String::from_utf8(s).unwrap();
    assert_eq!(
        wire::check(Field::Tag, &s),
        Err(Error::BadBase64(Field::Tag))
    );
    assert_eq!(
        wire::check(Field::Tag, &STANDARD.encode([0xffu8; 32])),
        Ok(())
    );
}

#[test]
fn huge_input_is_refused_before_decoding() {
    let huge = "A".repeat(10 * 1024 * 1024);
    assert!(matches!(
        wire::check(Field::Ct, &huge),
        Err(Error::BadLength {
            field: Field::Ct,
            ..
        })
    ));
}

proptest! {
    #[test]
    fn right_length_round_trips(field in prop::sample::select(FIELDS.to_vec()), byte in any::<u8>()) {
        let bytes = vec![byte; wire::expected_len(field)];
        let s = wire::encode(&bytes);
        prop_assert_eq!(wire::decode(field, &s).unwrap(), bytes);
    }

    #[test]
    fn wrong_length_is_bad_length(field in prop::sample::select(FIELDS.to_vec()), len in 0usize..1300) {
        prop_assume!(len != wire::expected_len(field));
        let s = STANDARD.encode(vec![7u8; len]);
        match wire::check(field, &s) {
            Err(Error::BadLength { field: f, expected, .. }) => {
                prop_assert_eq!(f, field);
                prop_assert_eq!(expected, wire::expected_len(field));
            }
            other => prop_assert!(false, "expected BadLength, got {:?}", other),
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_and_only_exact_sizes_pass(field in prop::sample::select(FIELDS.to_vec()), s in ".{0,2000}") {
        if let Ok(v) = wire::decode(field, &s) {
            prop_assert_eq!(v.len(), wire::expected_len(field));
            prop_assert_eq!(wire::encode(&v), s);
        }
    }

    #[test]
    fn check_agrees_with_decode(field in prop::sample::select(FIELDS.to_vec()), bytes in prop::collection::vec(any::<u8>(), 0..1300), flip in any::<usize>(), c in any::<char>()) {
        let mut s = STANDARD.encode(&bytes);
        // Sometimes corrupt one character.
        if flip % 3 == 0 && !s.is_empty() {
            let i = flip % s.len();
            let mut chars: Vec<char> = s.chars().collect();
            chars[i] = c;
            s = chars.into_iter().collect();
        }
        prop_assert_eq!(wire::check(field, &s), wire::decode(field, &s).map(drop));
    }

    #[test]
    fn offers_parse_iff_both_fields_are_exact(ek_len in prop::sample::select(vec![0usize, 1183, 1184, 1185]), c_len in prop::sample::select(vec![31usize, 32, 33])) {
        let r = OfferKem::from_wire(&STANDARD.encode(vec![1u8; ek_len]), &STANDARD.encode(vec![2u8; c_len]));
        prop_assert_eq!(r.is_ok(), ek_len == EK_LEN && c_len == 32);
        let a = AnswerKem::from_wire(&STANDARD.encode(vec![1u8; ek_len.min(CT_LEN)]));
        prop_assert_eq!(a.is_ok(), ek_len.min(CT_LEN) == CT_LEN);
    }
}
