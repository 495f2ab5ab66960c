//! The container's mounts, as the program's preopened directories.
//!
//! A kiln image has no root file system of its own: what a program can
//! reach is what the container mounts, its volumes. Each mounted directory
//! is preopened at its own path (a volume at `/data` is `/data` to the
//! program). The kernel's file systems that every container has (`/proc`,
//! `/sys`, `/dev` and what lies under them) are not, nor is `/` (it holds
//! them), nor a file mounted alone (`/etc/hosts`): WASI preopens only
//! directories.
//!
//! The container's process runs after the runtime has set up its mounts,
//! so they are read from `/proc/self/mountinfo` there: the same table
//! whoever made them.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// The file systems that the kernel serves: never a volume's contents.
const KERNEL_FILE_SYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "devtmpfs",
    "mqueue",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "pstore",
    "configfs",
    "fusectl",
    "binfmt_misc",
    "hugetlbfs",
    "autofs",
    "efivarfs",
    "selinuxfs",
];

/// The trees of kernel file systems that every container mounts.
const KERNEL_TREES: &[&str] = &["/proc", "/sys", "/dev"];

/// The directories to preopen: the mount points of this process's mount
/// table that are volumes, each once, in the table's order.
pub fn mounted_directories() -> Result<Vec<PathBuf>> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").context("cannot read /proc/self/mountinfo")?;
    let mut directories: Vec<PathBuf> = Vec::new();
    for point in volume_mount_points(&table) {
        if point.is_dir() && !directories.contains(&point) {
            directories.push(point);
        }
    }
    Ok(directories)
}

/// The mount points of `table` (the format of `/proc/PID/mountinfo`) that
/// may be volumes: not `/`, not under a kernel tree, not of a kernel file
/// system.
fn volume_mount_points(table: &str) -> Vec<PathBuf> {
    table
        .lines()
        .filter_map(|line| {
            let (fields, after_separator) = line.split_once(" - ")?;
            let mount_point = unescape(fields.split(' ').nth(4)?);
            let file_system = after_separator.split(' ').next()?;
            let in_kernel_tree = KERNEL_TREES.iter().any(|tree| {
                mount_point.strip_prefix(tree).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            });
            let is_volume = mount_point != "/" && !in_kernel_tree && !KERNEL_FILE_SYSTEMS.contains(&file_system);
            is_volume.then(|| PathBuf::from(OsString::from_vec(mount_point.into_bytes())))
        })
        .collect()
}

/// A mountinfo field with its octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match escape {
            Some(digits) => {
                out.push(digits.iter().fold(0u8, |n, d| n.wrapping_mul(8).wrapping_add(d - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container's table as runc or youki leave it, with two volumes.
    const TABLE: &str = "\
612 598 0:52 / / ro,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
613 612 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
614 612 0:56 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
615 614 0:57 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
616 614 0:50 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
617 612 0:58 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
618 617 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw
619 612 254:0 /srv/site /data rw,relatime - ext4 /dev/vda rw
620 612 254:0 /srv/my\\040files /my\\040files ro,relatime - ext4 /dev/vda rw
621 612 0:59 / /cache rw,relatime - tmpfs tmpfs rw
622 612 254:0 /etc/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw
623 612 0:60 / /procfs-not-proc rw - ext4 /dev/vda rw
";

    #[test]
    fn volumes_are_the_mounts_outside_the_kernel_trees() {
        let points = volume_mount_points(TABLE);
        let expected = ["/data", "/my files", "/cache", "/etc/hosts", "/procfs-not-proc"];
        assert_eq!(points, expected.iter().map(PathBuf::from).collect::<Vec<_>>());
    }

    #[test]
    fn a_line_that_is_not_mountinfo_is_ignored() {
        assert!(volume_mount_points("garbage\n\n1 2 3\n").is_empty());
    }

    #[test]
    fn octal_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b\011c"), "/a b\tc");
        assert_eq!(unescape(r"/trailing\04"), r"/trailing\04");
    }
}
