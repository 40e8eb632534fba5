//! The epoch files of a quorum member (ZooKeeper's QuorumPeer): `acceptedEpoch` and
//! `currentEpoch` in dataDir/version-2, each a decimal number as text, replaced atomically
//! (written to `<name>.tmp`, synced, renamed, directory synced) so that a crash leaves the
//! old value or the new one, never a torn file.

use std::io::Write;
use std::path::Path;

pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
pub const CURRENT_EPOCH: &str = "currentEpoch";

/// The epoch in `dir/name`; `Ok(None)` when the file does not exist (a new member).
pub fn read(dir: &Path, name: &str) -> std::io::Result<Option<i64>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t.trim().parse::<i64>().map(Some).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a number: {:?}",
                    dir.join(name).display(),
                    t.trim()
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `dir/name` with `value`, durably.
pub fn write(dir: &Path, name: &str, value: i64) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(value.to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_decimal_text_replaced_atomically() {
        let dir = std::env::temp_dir().join(format!("ferrozk-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&dir, CURRENT_EPOCH).unwrap(), None);
        write(&dir, CURRENT_EPOCH, 5).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(CURRENT_EPOCH)).unwrap(),
            "5"
        );
        write(&dir, CURRENT_EPOCH, 12).unwrap();
        assert_eq!(read(&dir, CURRENT_EPOCH).unwrap(), Some(12));
        assert!(!dir.join("currentEpoch.tmp").exists());
        // ZooKeeper's own files end without a newline; one with a newline reads the same.
        std::fs::write(dir.join(ACCEPTED_EPOCH), "7\n").unwrap();
        assert_eq!(read(&dir, ACCEPTED_EPOCH).unwrap(), Some(7));
        std::fs::write(dir.join(ACCEPTED_EPOCH), "garbage").unwrap();
        assert!(read(&dir, ACCEPTED_EPOCH).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
