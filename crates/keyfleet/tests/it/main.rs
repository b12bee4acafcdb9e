//! Process-level tests: the `keyfleet` binary as a newcomer and an operator use it.

mod http;
mod process;

mod admin_commands;
mod ceremony_two_processes;
mod cli_and_serve;
mod config_errors;
mod connector;
mod durability;
mod factory_loop;
mod factory_process;
mod key_tools;
mod mail_process;
mod mds_commands;
mod secrets_in_logs;
