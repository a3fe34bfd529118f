//! The generator run: progenitor's settings for this crate and the code it
//! writes, shared by `build.rs` and the rehearsed-update test (feature
//! `codegen`).

use std::{fmt::Write as _, str::FromStr};

use serde_json::Value;

use crate::repairs;

/// Generates the client's code from a repaired spec: progenitor's client,
/// with the hand-written models in place of the replaced schemas, followed
/// by `replaced_model_schemas()` (each replaced schema's name, its model's
/// path and the model's JSON schema, for the drift guard; from the same list
/// as the replacements, so the two never disagree).
pub fn generate(repaired: Value) -> Result<String, String> {
    let spec: openapiv3::OpenAPI = serde_json::from_value(repaired)
        .map_err(|e| format!("not an OpenAPI 3.0 document after repair: {e}"))?;
    let inner = proc_macro2::TokenStream::from_str("crate::config::ClientState")
        .map_err(|e| format!("inner type: {e}"))?;
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(inner)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq");
    let replacements = repairs::replacements();
    for schema in &replacements {
        settings.with_replacement(
            schema,
            format!("crate::models::{schema}"),
            std::iter::empty(),
        );
    }
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor could not generate the client: {e}"))?;
    let file = syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    let mut code = prettyplease::unparse(&file);
    code.push_str(&model_schemas(&replacements));
    Ok(code)
}

fn model_schemas(replacements: &[String]) -> String {
    let mut rows = String::new();
    for name in replacements {
        let _ = writeln!(
            rows,
            "        (\"{name}\", \"crate::models::{name}\", ::serde_json::to_value(::schemars::schema_for!(crate::models::{name})).unwrap_or_default()),"
        );
    }
    format!(
        "\n/// Each schema replaced by a hand-written model: its name in the spec, the\n\
         /// model's path, and the model's JSON schema (for the drift guard).\n\
         #[doc(hidden)]\n\
         pub fn replaced_model_schemas() -> ::std::vec::Vec<(&'static str, &'static str, ::serde_json::Value)> {{\n    vec![\n{rows}    ]\n}}\n"
    )
}
