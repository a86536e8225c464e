//! `tokend generate completions|man DIR` (hidden from `--help`): shell
//! completions and manual pages made from the command line's own
//! definition, so that a package ships what this very binary accepts.
//! Nothing here opens a database or reads the environment.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;

/// The shells whose completions the Debian package ships.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

#[derive(Subcommand)]
pub(super) enum GenerateCommand {
    /// Write shell completions for bash, zsh and fish into DIR
    /// (tokend.bash, _tokend, tokend.fish).
    Completions {
        /// The directory to write into (created if missing).
        dir: PathBuf,
    },
    /// Write the manual pages into DIR: tokend.1 and one page per
    /// subcommand (tokend-serve.1, tokend-user-add.1, …).
    Man {
        /// The directory to write into (created if missing).
        dir: PathBuf,
    },
}

pub(super) fn generate(command: GenerateCommand) -> Result<(), String> {
    let cli = super::Cli::command();
    match command {
        GenerateCommand::Completions { dir } => {
            create(&dir)?;
            let mut cli = cli;
            for shell in SHELLS {
                let path =
                    clap_complete::generate_to(shell, &mut cli, "tokend", &dir).map_err(|e| {
                        format!("cannot write {shell} completions in {}: {e}", dir.display())
                    })?;
                println!("{}", path.display());
            }
        }
        GenerateCommand::Man { dir } => {
            create(&dir)?;
            clap_mangen::generate_to(cli, &dir)
                .map_err(|e| format!("cannot write manual pages in {}: {e}", dir.display()))?;
            println!("{}", dir.join("tokend.1").display());
        }
    }
    Ok(())
}

fn create(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}
