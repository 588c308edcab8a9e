//! The operator's override email templates on disk (`email.templates_dir`): read once, when
//! a renderer is built, and handed to the pure [`Renderer`] as text.

use std::path::Path;

use crate::render::{EmailSettings, HTML_TEMPLATE, OverrideTemplates, Renderer, TEXT_TEMPLATE};

/// Reads `newsletter.html.j2` and `newsletter.txt.j2` from `dir`. A file that is not there
/// is left to the built-in template; any other error makes the whole directory unusable
/// (the built-in templates are used and the error is reported with every email).
pub fn read_overrides(dir: Option<&Path>) -> OverrideTemplates {
    let Some(dir) = dir else {
        return OverrideTemplates::None;
    };
    let mut sources = [None, None];
    for (slot, name) in sources.iter_mut().zip([HTML_TEMPLATE, TEXT_TEMPLATE]) {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(source) => *slot = Some(source),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return OverrideTemplates::Unreadable(format!(
                    "template {}: {error}; using the built-in one",
                    path.display()
                ));
            }
        }
    }
    match sources {
        [None, None] => OverrideTemplates::None,
        [html, text] => OverrideTemplates::Sources { html, text },
    }
}

/// A renderer with the override templates of `settings.templates_dir`, where they load.
pub fn load_renderer(settings: &EmailSettings) -> Renderer {
    Renderer::with_overrides(read_overrides(settings.templates_dir.as_deref()))
}
