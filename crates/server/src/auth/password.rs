//! Password hashes made for passwords: argon2id with the crate's defaults (19 MiB, 2 passes), stored as PHC
//! strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) so the parameters travel with each hash and can
//! be raised later without breaking old ones. Hashing and verifying cost tens of milliseconds of CPU: call
//! them on the blocking pool (`crate::blocking::run`), never on an async worker.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::Rng;

/// Shortest password accepted from a person.
pub const MIN_LEN: usize = 8;
/// Longest password accepted: argon2 would take more, but nobody types this much.
pub const MAX_LEN: usize = 1024;

/// Why a password is not accepted (shown to the user; never contains the password).
pub fn check_strength(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!("the password is too short: use at least {MIN_LEN} characters"));
    }
    if password.len() > MAX_LEN {
        return Err(format!("the password is too long: at most {MAX_LEN} bytes"));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    crate::blocking::assert_off_runtime();
    let salt: [u8; 16] = rand::rng().random();
    let phc = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    crate::blocking::assert_off_runtime();
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Spends the time a real verification would, for a name that has no account, so the answer's timing
/// does not tell which names exist.
pub fn verify_nobody(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("not a password anyone has").unwrap_or_default());
    let _ = verify(password, phc);
}

/// A new random password for a person to type once and change: 20 characters from an alphabet without
/// look-alikes (about 115 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsf", &a));
        assert!(!verify("correct horse", "not a phc string"));
        let p = generate();
        assert_eq!(p.len(), 20);
        assert!(check_strength(&p).is_ok());
        assert!(check_strength("short").is_err());
    }
}
