//! The integration tests: one binary, one module per area, shared helpers in
//! [`support`]. Property tests live in `properties`; doc tests stay with the
//! code they document.

mod support;

mod cli_download_faults;
mod cli_download_more;
mod cli_exit_codes;
mod cli_export;
mod cli_jobs;
mod cli_lookups;
mod cli_output_hygiene;
mod cli_records;
mod cli_simulate_demo;
mod cli_sync;
mod client_config;
mod client_errors;
mod client_operations;
#[cfg(feature = "dataset")]
mod dataset_land;
#[cfg(feature = "dataset")]
mod dataset_land_files;
#[cfg(feature = "dataset")]
mod dataset_lookups;
#[cfg(feature = "dataset")]
mod dataset_readers;
#[cfg(feature = "s3")]
mod dataset_s3;
mod download_checksum;
mod download_filename;
mod download_files;
mod download_memory;
mod download_reliability;
mod export_conflict;
mod export_request;
mod fault_matrix;
mod jobs_progress;
mod jobs_schedule;
mod jobs_wait;
mod lookups_catalogue;
mod lookups_models;
mod pagination;
mod properties;
mod records_arrow;
mod records_columnar;
mod records_fields;
mod records_reuse;
mod records_stream;
mod records_text;
mod secret_hygiene;
mod simulator_api;
mod simulator_contract;
mod simulator_e2e;
mod simulator_faults;
mod simulator_files;
mod simulator_sync_knobs;
mod spec_build;
mod spec_drift;
mod spec_repairs;
mod spec_surface;
mod sync_crash;
mod sync_lock;
mod sync_run;
#[cfg(feature = "s3")]
mod sync_s3;
