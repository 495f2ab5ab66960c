//! Image names as `kiln oci build --name` takes them: `[REGISTRY/]PATH[:TAG]`
//! in the grammar of the OCI distribution spec's references, which
//! containerd and Docker parse, but without `@DIGEST`: an image being built
//! has no digest to be named by yet.

use std::fmt;

/// The tag of a reference that gives none, as `docker` and `ctr` add.
const DEFAULT_TAG: &str = "latest";

/// The most bytes a name (registry and path, without the tag) may have.
const NAME_MAX: usize = 255;

/// The most bytes a tag may have.
const TAG_MAX: usize = 128;

/// A checked image reference: its name and tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// Registry (if any) and path: `kiln.local/app`.
    name: String,
    /// `latest` when the text gave none.
    tag: String,
}

impl ImageReference {
    /// Parses `text`, adding the tag `latest` if it has none.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains('@') {
            return Err(format!("`{text}` has a digest: name the image to build as NAME[:TAG]"));
        }
        // A colon after the last slash starts the tag; one before it is a
        // registry's port (`localhost:5000/app`).
        let last_component = text.rfind('/').map_or(0, |slash| slash + 1);
        let (name, tag) = match text[last_component..].find(':') {
            Some(colon) => (&text[..last_component + colon], &text[last_component + colon + 1..]),
            None => (text, DEFAULT_TAG),
        };
        check_tag(tag).map_err(|why| format!("`{text}`: {why}"))?;
        check_name(name).map_err(|why| format!("`{text}`: {why}"))?;
        Ok(ImageReference { name: name.to_string(), tag: tag.to_string() })
    }

    /// The reference kiln names an image by when `--name` is not given:
    /// `kiln.local/STEM:latest`, STEM being the file stem lower-cased, with
    /// characters a path may not have as dashes.
    pub fn default_for(stem: &str) -> Result<Self, String> {
        let path: String = stem
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) { c } else { '-' })
            .collect();
        Self::parse(&format!("kiln.local/{path}"))
    }

    /// The tag: `latest` if the text gave none.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// The full reference, `NAME:TAG`.
impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err(format!(
            "the tag `{tag}` is not one: letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ));
    }
    if tag.len() > TAG_MAX {
        return Err(format!("the tag has {} characters, at most {TAG_MAX} are allowed", tag.len()));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("no image name".to_string());
    }
    if name.len() > NAME_MAX {
        return Err(format!("the name has {} characters, at most {NAME_MAX} are allowed", name.len()));
    }
    let components: Vec<&str> = name.split('/').collect();
    // As Docker and containerd read it: the first of several components is
    // a registry if it looks like a host name rather than a path.
    let has_registry = components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost");
    let path = if has_registry {
        check_registry(components[0])?;
        &components[1..]
    } else {
        &components[..]
    };
    for component in path {
        check_path_component(component)?;
    }
    Ok(())
}

/// `host[:port]`: DNS labels separated by dots.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!("the registry `{registry}` is not a host name"));
    }
    if port.is_some_and(|port| port.is_empty() || !port.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("the registry `{registry}` has a port that is not a number"));
    }
    Ok(())
}

/// Lower-case letters and digits, separated by one `.`, one or two `_`,
/// or any number of `-`.
fn check_path_component(component: &str) -> Result<(), String> {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let separator_ok = |s: &str| s == "." || s == "_" || s == "__" || s.chars().all(|c| c == '-');
    let mut rest = component;
    let well_formed = loop {
        let word = rest.find(|c: char| !alphanumeric(c)).unwrap_or(rest.len());
        if word == 0 {
            break false;
        }
        rest = &rest[word..];
        if rest.is_empty() {
            break true;
        }
        let separator = rest.find(alphanumeric).unwrap_or(rest.len());
        if !separator_ok(&rest[..separator]) {
            break false;
        }
        rest = &rest[separator..];
    };
    if well_formed {
        return Ok(());
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("`{component}` has upper-case letters: image paths are lower case"));
    }
    Err(format!(
        "`{component}` is not a path component of an image name: lower-case letters and digits, separated by \
         `.`, `_`, `__` or dashes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(text: &str) -> String {
        ImageReference::parse(text).map(|r| r.to_string()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn references_get_latest_when_untagged_and_keep_registry_ports() {
        assert_eq!(full("app"), "app:latest");
        assert_eq!(full("kiln.local/app:v1.2"), "kiln.local/app:v1.2");
        assert_eq!(full("localhost:5000/team/app"), "localhost:5000/team/app:latest");
        assert_eq!(full("localhost:5000/app:_x"), "localhost:5000/app:_x");
        assert_eq!(full("ghcr.io/a-b/c__d.e:1"), "ghcr.io/a-b/c__d.e:1");
        assert_eq!(ImageReference::parse("a/b:v2").unwrap().tag(), "v2");
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        for bad in [
            "",
            ":tag",
            "app:",
            "app:.x",
            "App",
            "app/",
            "/app",
            "a//b",
            "app_",
            "a...b",
            "a___b",
            "app@sha256:0000",
            "bad_host.io:x/app",
            "-host.io/app",
            "host.io:/app",
            "app:has space",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(ImageReference::parse("App").unwrap_err().contains("upper-case"));
        assert!(ImageReference::parse(&format!("app:{}", "t".repeat(129))).is_err());
        assert!(ImageReference::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn default_names_come_from_the_file_stem() {
        assert_eq!(ImageReference::default_for("app").unwrap().to_string(), "kiln.local/app:latest");
        assert_eq!(ImageReference::default_for("My App").unwrap().to_string(), "kiln.local/my-app:latest");
        assert!(ImageReference::default_for("_").is_err());
    }
}
