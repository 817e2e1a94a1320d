//! A quick look at a config for clients: the `[svc] control` path, without
//! parsing services (or reading their env_files). No syscalls.

/// The value of `control` in the `[svc]` section, if any.
pub fn control_path(text: &[u8]) -> Option<&[u8]> {
    let mut in_svc = false;
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.starts_with(b"[") {
            in_svc = line == b"[svc]";
            continue;
        }
        if !in_svc {
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else { continue };
        let (k, v) = line.split_at(eq);
        if k.trim_ascii() == b"control" {
            return v.get(1..).map(|v| v.trim_ascii()).filter(|v| !v.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_control() {
        let t = b"# x\n[web]\ncontrol = /no\n[svc]\ncontrol_group = adm\n control = /run/a.sock \n[db]\n";
        assert_eq!(control_path(t), Some(&b"/run/a.sock"[..]));
        assert_eq!(control_path(b"[svc]\n"), None);
    }
}
