//! The man pages under docs/man: clap_mangen renders each command's synopsis, description and
//! options from the clap definition, and this module adds the sections a Debian user looks for
//! (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO). The environment section is built from
//! the lists the worker environment policy itself uses, so it cannot drift from the code.
//! `HWSPEC_BLESS=1 cargo test -p hwspec-cli man_pages` rewrites the pages after a change; the
//! Debian package installs them.

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use hwspec_core::supervise::environment::{
    loader_prefixes, passed_prefixes, runtime_prefixes, selectors, CODE_WORDS, PASSED_PLAIN,
};

use crate::cli::Cli;

/// Where `hwspec-features.service` writes its Node Feature Discovery labels.
pub const NFD_FEATURES_FILE: &str = "/etc/kubernetes/node-feature-discovery/features.d/hwspec";

/// Pages of other packages that SEE ALSO may name: apt, dpkg-dev and systemd are where hwspec
/// is used. The package test checks each with `man -w` on the installed system.
const OTHER_PAGES: &[&str] = &["apt.conf(5)", "deb-src-control(5)", "systemd.timer(5)"];

/// One paragraph of a section.
enum Item {
    /// A plain paragraph.
    Text(&'static str),
    /// A paragraph made at run time.
    Owned(String),
    /// A term and its description (`.TP`).
    Term(&'static str, String),
    /// What an example does, and the commands, shown verbatim.
    Example(&'static str, &'static [&'static str]),
}

struct Section {
    title: &'static str,
    items: Vec<Item>,
}

fn section(title: &'static str, items: Vec<Item>) -> Section {
    Section { title, items }
}

/// The man pages: `hwspec.1` and one page per subcommand, as `(file name, roff)`.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut command = Cli::command();
    command.build();
    // clap adds a `help` subcommand; it has no page, so SEE ALSO-like lists must not name it.
    let command = command.mut_subcommand("help", |help| help.hide(true));
    let mut pages = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("hwspec-{}", sub.get_name());
        let sections = sections_of(sub.get_name());
        let cmd = sub
            .clone()
            .name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), render(cmd, &sections)));
    }
    pages.push(("hwspec.1".to_owned(), render(command, &sections_of(""))));
    pages
}

fn render(cmd: clap::Command, sections: &[Section]) -> Vec<u8> {
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page).expect("render");
    man.render_name_section(&mut page).expect("render");
    man.render_synopsis_section(&mut page).expect("render");
    man.render_description_section(&mut page).expect("render");
    man.render_options_section(&mut page).expect("render");
    if has_subcommands {
        man.render_subcommands_section(&mut page).expect("render");
    }
    let mut roff = Roff::new();
    for section in sections {
        roff.control("SH", [section.title]);
        for item in &section.items {
            match item {
                Item::Text(text) => {
                    roff.control("PP", []).text([roman(*text)]);
                }
                Item::Owned(text) => {
                    roff.control("PP", []).text([roman(text.as_str())]);
                }
                Item::Term(term, text) => {
                    roff.control("TP", [])
                        .text([bold(*term)])
                        .text([roman(text.as_str())]);
                }
                Item::Example(what, commands) => {
                    roff.control("PP", []).text([roman(*what)]);
                    roff.control("RS", ["4"]).control("nf", []);
                    for command in *commands {
                        roff.text([roman(*command)]);
                    }
                    roff.control("fi", []).control("RE", []);
                }
            }
        }
    }
    roff.to_writer(&mut page).expect("render");
    page
}

/// The names a list of variable names and prefixes stands for: `VK_*` for the prefix `VK_`.
fn names(list: &[&str]) -> String {
    starred(list).join(", ")
}

/// `A_*, B_* or C_*`.
fn alternatives(list: &[&str]) -> String {
    let mut names = starred(list);
    match names.pop() {
        Some(last) if !names.is_empty() => format!("{} or {last}", names.join(", ")),
        Some(last) => last,
        None => String::new(),
    }
}

/// Each name, with `*` after a prefix (a name ending in `_`).
fn starred(list: &[&str]) -> Vec<String> {
    list.iter()
        .map(|n| {
            if n.ends_with('_') {
                format!("{n}*")
            } else {
                (*n).to_owned()
            }
        })
        .collect()
}

fn environment() -> Section {
    section(
        "ENVIRONMENT",
        vec![
            Item::Term(
                "HWSPEC_OVERRIDE_<CAP>=<version>|absent",
                "Sets capability CAP to a version, or removes it with absent, as conda's \
                 CONDA_OVERRIDE_CUDA does, to test packaging logic without the hardware; _ \
                 stands for - (HWSPEC_OVERRIDE_CUDA_ARCH=8.6). Every output shows the overrides \
                 in force, and an invalid one is an error (exit status 2)."
                    .to_owned(),
            ),
            Item::Term(
                "XDG_CACHE_HOME, HOME",
                "A user other than root keeps the report cache and the driver caches in \
                 $XDG_CACHE_HOME/hwspec, or ~/.cache/hwspec."
                    .to_owned(),
            ),
            Item::Term(
                "Variables passed to the workers",
                format!(
                    "Each backend is probed in a worker process that gets {} and the variables \
                     that tell runtimes where to look and which devices to use: {}. Everything \
                     else is dropped; the report lists the variables that applied. Workers also \
                     get LC_ALL=C, driver caches pointed at hwspec's own directory, and implicit \
                     Vulkan layers disabled (VK_LOADER_LAYERS_DISABLE=~implicit~) unless \
                     VK_LOADER_LAYERS_ENABLE or VK_LOADER_LAYERS_DISABLE is set.",
                    names(PASSED_PLAIN),
                    names(&passed_prefixes())
                ),
            ),
            Item::Term(
                "Running as root",
                format!(
                    "hwspec runs as root in apt hooks and on build machines, on the environment \
                     of whoever called it, so as root nothing a non-root user controls reaches a \
                     worker unless --trust-env is given: not the variables that make loaders and \
                     drivers load other code or read manifests ({}), not a {} variable whose \
                     name has one of the words {} (CUDA_INJECTION64_PATH, HSA_TOOLS_LIB), and not a HOME, TMPDIR, XDG_* directory or PATH entry that \
                     another user could change (workers get an empty root-owned home instead, and \
                     a default PATH). Device selectors ({}) load nothing and still pass. The \
                     report lists every name withheld (dropped_environment in --json), and \
                     libhwspec ignores HWSPEC_WORKER as root. docs/reliability.md has the \
                     table.",
                    names(&loader_prefixes()),
                    alternatives(&runtime_prefixes()),
                    CODE_WORDS.join(", "),
                    selectors().join(", ")
                ),
            ),
        ],
    )
}

fn files(probe: bool, apt: bool) -> Section {
    let mut items = vec![
        Item::Term(
            "/var/cache/hwspec/",
            "Root's report cache, which answers while nothing a probe depends on has changed, \
             and driver-cache/, where PoCL, Mesa and CUDA keep compiled kernels. The hwspec \
             package creates it and removes it when purged."
                .to_owned(),
        ),
        Item::Term(
            "$XDG_CACHE_HOME/hwspec/ (~/.cache/hwspec/)",
            "The same for other users.".to_owned(),
        ),
    ];
    if apt {
        items.push(Item::Term(
            "/etc/apt/apt.conf.d/50hwspec",
            "Runs hwspec apt-hook before apt installs packages (a conffile of the hwspec \
             package). Set Hwspec::Refuse there, or in a file of your own, to refuse."
                .to_owned(),
        ));
    }
    if probe {
        items.push(Item::Term(
            NFD_FEATURES_FILE,
            "The Node Feature Discovery labels (hwspec probe --format nfd) written by \
             hwspec-features.service, which hwspec-features.timer starts hourly where NFD's \
             features.d directory exists."
                .to_owned(),
        ));
    }
    section("FILES", items)
}

fn see_also(pages: &[&str]) -> Section {
    section("SEE ALSO", vec![Item::Owned(pages.join(", "))])
}

/// The sections after OPTIONS of the page for `subcommand` ("" for hwspec.1).
fn sections_of(subcommand: &str) -> Vec<Section> {
    match subcommand {
        "" => vec![
            section(
                "EXIT STATUS",
                vec![
                    Item::Text(
                        "probe: 0 when it ran, whatever it found. check: 0 satisfied, 1 not \
                         satisfied (or the --skip-code). apt-hook: 0, or 1 when it refuses. Any \
                         command: 1 when hwspec itself failed (e.g. could not write its output), \
                         2 for invalid input or usage.",
                    ),
                ],
            ),
            environment(),
            files(true, true),
            section(
                "EXAMPLES",
                vec![
                    Item::Example("Probe this machine:", &["hwspec probe"]),
                    Item::Example(
                        "Does this machine satisfy a package's requirement?",
                        &[
                            "hwspec check 'cuda (>= 12.0) | opencl'",
                            "hwspec check --explain --control debian/control",
                        ],
                    ),
                ],
            ),
            see_also(&[
                "hwspec-probe(1)",
                "hwspec-check(1)",
                "hwspec-apt-hook(1)",
                "hwspec-conda-detect(1)",
                "hwspec-completions(1)",
                "deb-src-control(5)",
                "apt.conf(5)",
            ]),
        ],
        "probe" => vec![
            section(
                "EXIT STATUS",
                vec![
                    Item::Text(
                        "0 when the probe ran, whatever it found (a missing or broken runtime is \
                         a state in the report, not an error); 1 when hwspec itself failed, e.g. \
                         could not write --output; 2 for usage errors and invalid \
                         HWSPEC_OVERRIDE_* variables. A closed standard output is not an error.",
                    ),
                ],
            ),
            environment(),
            files(true, false),
            section(
                "EXAMPLES",
                vec![
                    Item::Example("The table, then the capability set as JSON:", &[
                        "hwspec probe",
                        "hwspec probe --json | jq .capabilities",
                    ]),
                    Item::Example(
                        "Prove OpenCL and Vulkan again now, with SGEMM as well as SAXPY:",
                        &["hwspec probe --backend opencl,vulkan --level full --fresh"],
                    ),
                    Item::Example(
                        "Node Feature Discovery labels, as hwspec-features.service writes them:",
                        &["hwspec probe --format nfd --output /etc/kubernetes/node-feature-discovery/features.d/hwspec"],
                    ),
                    Item::Example(
                        "A slurm.conf include with this node's features and GPUs, and its \
                         gres.conf lines:",
                        &[
                            "hwspec probe --format slurm --output /etc/slurm/hwspec/$(hostname -s).conf",
                            "hwspec probe --format slurm-gres --output /etc/slurm/gres.conf",
                        ],
                    ),
                    Item::Example("Debian ROCm CI worker tags (amd64+gfx1030):", &[
                        "hwspec probe --format debci",
                    ]),
                ],
            ),
            see_also(&["hwspec(1)", "hwspec-check(1)", "systemd.timer(5)"]),
        ],
        "check" => vec![
            section(
                "EXIT STATUS",
                vec![
                    Item::Text(
                        "0 when the requirement is satisfied; 1, or the --skip-code, when it is \
                         not; 2 for invalid input: a malformed expression, control file, .dsc or \
                         .deb (the message names the file and line), an invalid \
                         HWSPEC_OVERRIDE_* variable, or a usage error.",
                    ),
                    Item::Text(
                        "With --control, a requirement spelled so that dpkg will not copy it \
                         where it is read is warned about on standard error with the spelling to \
                         use: a source stanza needs XS-Requires-Hwspec (to reach the .dsc), a \
                         binary stanza XB-Requires-Hwspec (to reach its .deb).",
                    ),
                ],
            ),
            environment(),
            files(false, false),
            section(
                "EXAMPLES",
                vec![
                    Item::Example("A requirement on the command line:", &[
                        "hwspec check 'cuda (>= 12.0), gpu-memory (>= 16)'",
                    ]),
                    Item::Example("Why a source tree's requirement is or is not met:", &[
                        "hwspec check --explain --control debian/control",
                    ]),
                    Item::Example("A buildd taking only the jobs it qualifies for:", &[
                        "hwspec check --dsc foo_1.0-1.dsc && sbuild foo_1.0-1.dsc",
                    ]),
                    Item::Example(
                        "An autopkgtest that is skipped, not failed, without the hardware \
                         (debian/tests/control, with Restrictions: skippable):",
                        &["Test-Command: hwspec check --skip-code 77 'opencl (>= 1.2)' && debian/tests/run"],
                    ),
                    Item::Example("Is this worker what its debci queue says it is?", &[
                        "hwspec check --worker-tag amd64+gfx1030",
                    ]),
                    Item::Example("Packaging logic tested without the hardware:", &[
                        "HWSPEC_OVERRIDE_CUDA=12.4 hwspec check --explain 'cuda (>= 12.0)'",
                    ]),
                ],
            ),
            see_also(&["hwspec(1)", "hwspec-probe(1)", "deb-src-control(5)"]),
        ],
        "apt-hook" => vec![
            section(
                "EXIT STATUS",
                vec![
                    Item::Text(
                        "0, after a warning for each package whose requirement is not satisfied; \
                         1 when refusing (with --refuse or the apt option Hwspec::Refuse) a \
                         package that is not installed yet, which makes apt stop before dpkg \
                         runs; 2 for usage errors. A package that is already installed (an \
                         upgrade, downgrade or reinstall) is warned about, never refused: \
                         refusing it would protect nothing and stop the whole transaction, \
                         security updates included. A package that cannot be read, or whose \
                         field is malformed, is warned about and never refused.",
                    ),
                    Item::Text(
                        "The shipped configuration runs the hook as \
                         \"/usr/bin/hwspec apt-hook; test $? -ne 1\", so apt stops only on a \
                         refusal: a missing (removed, not purged), broken or crashing hwspec \
                         never makes apt fail.",
                    ),
                ],
            ),
            environment(),
            files(false, true),
            section(
                "EXAMPLES",
                vec![
                    Item::Example(
                        "The configuration the hwspec package installs (protocol version 2 tells \
                         the hook which packages are upgrades):",
                        &[
                            "DPkg::Pre-Install-Pkgs { \"/usr/bin/hwspec apt-hook; test $? -ne 1\"; };",
                            "DPkg::Tools::Options::/usr/bin/hwspec::Version \"2\";",
                        ],
                    ),
                    Item::Example("Refuse for one command, or always:", &[
                        "apt-get -o Hwspec::Refuse=true install ./foo_1.0_amd64.deb",
                        "echo 'Hwspec::Refuse \"true\";' > /etc/apt/apt.conf.d/51hwspec-refuse",
                    ]),
                ],
            ),
            see_also(&["hwspec(1)", "hwspec-check(1)", "apt.conf(5)"]),
        ],
        "conda-detect" => vec![
            section(
                "EXIT STATUS",
                vec![Item::Text(
                    "0 with the report on standard output, whatever it found (a machine without \
                     a validated GPU gets null for each virtual package); 2 for invalid usage, \
                     with nothing on standard output, which a conda client reads as a failed \
                     detector.",
                )],
            ),
            environment(),
            files(false, false),
            section(
                "EXAMPLES",
                vec![
                    Item::Example(
                        "What a conda client runs (the detector package's executable, \
                         contrib/conda/hwspec-detect, execs this):",
                        &["hwspec conda-detect"],
                    ),
                    Item::Example(
                        "The answer for a registration that declares only the CUDA names:",
                        &["hwspec conda-detect --virtual-packages __cuda,__cuda_arch"],
                    ),
                ],
            ),
            see_also(&["hwspec(1)", "hwspec-probe(1)"]),
        ],
        "completions" => vec![
            section(
                "EXIT STATUS",
                vec![Item::Text("0, or 2 for usage errors.")],
            ),
            section(
                "EXAMPLES",
                vec![Item::Example(
                    "The hwspec package installs the bash, zsh and fish completions; for a \
                     hwspec installed another way:",
                    &["hwspec completions bash > ~/.local/share/bash-completion/completions/hwspec"],
                )],
            ),
            see_also(&["hwspec(1)"]),
        ],
        other => panic!("no man page sections for subcommand {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed man pages under docs/man must be what the clap definition renders.
    #[test]
    fn man_pages_match_the_command_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/man");
        let bless = std::env::var_os("HWSPEC_BLESS").is_some();
        let pages = man_pages();
        for (file, page) in &pages {
            let path = dir.join(file);
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, page).unwrap();
            } else {
                let committed = std::fs::read(&path).unwrap_or_default();
                assert!(
                    committed == *page,
                    "docs/man/{file} is out of date: run HWSPEC_BLESS=1 cargo test -p hwspec-cli man_pages"
                );
            }
        }
        let mut committed: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        committed.sort();
        let mut rendered: Vec<String> = pages.into_iter().map(|(file, _)| file).collect();
        rendered.sort();
        assert_eq!(committed, rendered, "docs/man has a page nothing renders");
    }

    /// Every page named anywhere in a page (SUBCOMMANDS, SEE ALSO) is one of ours, or one of
    /// the other packages' pages the package test looks up with `man -w`.
    #[test]
    fn man_pages_name_only_pages_that_exist() {
        let pages = man_pages();
        let ours: Vec<String> = pages
            .iter()
            .map(|(file, _)| file.replace(".1", "(1)"))
            .collect();
        for (file, page) in &pages {
            let text = String::from_utf8_lossy(page).replace("\\-", "-");
            for reference in references(&text) {
                assert!(
                    ours.contains(&reference) || OTHER_PAGES.contains(&reference.as_str()),
                    "{file} names {reference}, which is not a page"
                );
            }
        }
    }

    /// `name(section)` references in roff text.
    fn references(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (at, _) in text.match_indices('(') {
            let name: String = text[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let rest = &text[at + 1..];
            let section: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !name.is_empty() && !section.is_empty() && rest[section.len()..].starts_with(')') {
                found.push(format!("{name}({section})"));
            }
        }
        found
    }

    #[test]
    fn every_page_has_the_sections_a_debian_user_expects() {
        for (file, page) in man_pages() {
            let text = String::from_utf8_lossy(&page).into_owned();
            let mut expected = vec![
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "EXIT STATUS",
                "EXAMPLES",
                "SEE ALSO",
            ];
            if file != "hwspec-completions.1" {
                expected.extend(["ENVIRONMENT", "FILES"]);
            }
            for title in expected {
                assert!(
                    text.contains(&format!(".SH \"{title}\""))
                        || text.contains(&format!(".SH {title}\n")),
                    "{file} has no {title} section"
                );
            }
            assert!(!text.contains("hwspec\\-help"), "{file} names hwspec-help");
        }
    }

    #[test]
    fn the_environment_section_lists_the_policy_lists() {
        let (_, page) = man_pages()
            .into_iter()
            .find(|(file, _)| file == "hwspec-probe.1")
            .unwrap();
        let text = String::from_utf8_lossy(&page).replace("\\-", "-");
        for name in passed_prefixes()
            .iter()
            .chain(&loader_prefixes())
            .chain(&runtime_prefixes())
            .chain(PASSED_PLAIN)
            .chain(CODE_WORDS)
            .chain(&selectors())
        {
            assert!(text.contains(name), "ENVIRONMENT does not name {name}");
        }
        assert!(text.contains(NFD_FEATURES_FILE));
    }
}
