//! HTTP-level tests of keyfleet's server, in process, against SQLite and PostgreSQL.

mod architecture;
mod big_fleet;
mod harness;
mod issue9;
mod jobs;
mod mail;
mod metadata;
mod statements;

mod auth_tap;
mod bad_input;
mod band_reassign;
mod clients;
mod console_admin;
mod console_audit;
mod console_people;
mod console_users;
mod group_rules;
mod oidc;
mod oidc_apps;
mod oidc_protocol;
mod onbehalf;
mod openapi;
mod page_speed;
mod pages;
mod policies;
mod reports;
mod scim;
mod signin_limits;
mod strengths;
mod users;
mod webauthn;
mod webauthn_kit;
mod webauthn_registration_refusals;
mod webauthn_sign_in_refusals;
