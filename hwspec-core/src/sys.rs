//! Small facts read from the operating system, without vendor code.

/// The path of the first shared object mapped into this process whose file name starts with
/// `soname_prefix` (e.g. `libOpenCL.so`). Read from `/proc/self/maps`, so it names the file the
/// dynamic loader really chose, whatever search path led there.
pub fn loaded_library(soname_prefix: &str) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    find_mapped(&maps, soname_prefix)
}

fn find_mapped(maps: &str, soname_prefix: &str) -> Option<String> {
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            path.starts_with('/')
                && path
                    .rsplit('/')
                    .next()
                    .is_some_and(|file| file.starts_with(soname_prefix))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mapped_library_by_prefix() {
        let maps = "\
7f00-7f01 r--p 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02-7f03 r-xp 00000000 fe:01 2 /usr/lib/x86_64-linux-gnu/libOpenCL.so.1.0.0
7f04-7f05 rw-p 00000000 00:00 0 [heap]
";
        assert_eq!(
            find_mapped(maps, "libOpenCL.so").as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libOpenCL.so.1.0.0")
        );
        assert_eq!(find_mapped(maps, "libvulkan.so"), None);
    }

    #[test]
    fn this_process_has_libc_mapped() {
        assert!(loaded_library("libc.so").is_some() || loaded_library("libc-").is_some());
    }
}
