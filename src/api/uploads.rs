//! The body of `POST /api/imports`: each multipart `file` field streamed chunk by chunk to
//! `DATA_DIR/uploads/STAMP-NAME`, imported as the command line imports a file (the
//! several files of a job feed as one snapshot, as `mailscore import jobs A B` does), then
//! removed (the import's report is what is kept). One upload at a time; its progress is
//! in [`AppState::upload_progress`] while it runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef};

use super::AppState;
use crate::domain::ImportReport;
use crate::ingest::{EncodingChoice, ImportKind, ImportOptions, ProgressFactory};
use crate::service::ServiceError;
use crate::service::imports::{ImportGroup, UploadProgress, import_group, safe_file_name};

/// The directory of the data directory uploads are written to.
pub const UPLOADS_DIR: &str = "uploads";

/// The multipart field that holds the file.
pub const FILE_FIELD: &str = "file";

/// The body of an upload: poem's streaming multipart reader, documented in the OpenAPI
/// document as `multipart/form-data` with one binary `file` field. (poem-openapi's own
/// `Upload` spools every file to the system's temporary directory first; this reads the
/// field as it arrives, straight into the data directory.)
pub struct UploadBody(pub poem::web::Multipart);

impl<'a> poem_openapi::ApiExtractor<'a> for UploadBody {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        let mut file = MetaSchema::new_with_format("string", "binary");
        file.description = Some("The CSV file, in any encoding mailscore reads.");
        let mut form = MetaSchema::new("object");
        form.properties = vec![(FILE_FIELD, MetaSchemaRef::Inline(Box::new(file)))];
        form.required = vec![FILE_FIELD];
        Some(MetaRequest {
            description: Some("The file to import, as the `file` field of a form."),
            content: vec![MetaMediaType {
                content_type: "multipart/form-data",
                schema: MetaSchemaRef::Inline(Box::new(form)),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a poem::Request,
        body: &mut poem::RequestBody,
        _options: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        <poem::web::Multipart as poem::FromRequest>::from_request(request, body)
            .await
            .map(UploadBody)
    }
}

/// Removes the uploaded file however the request ends (imported, refused, or the client
/// went away midway).
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn set_progress(state: &AppState, update: impl FnOnce(&mut Option<UploadProgress>)) {
    update(
        &mut state
            .upload_progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
}

/// How one upload is imported, beside the server's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadOptions {
    /// Take a job feed past the snapshot guard.
    pub allow_shrink: bool,
    /// The file's encoding; `None`: the server's `import.encoding`.
    pub encoding: Option<EncodingChoice>,
    /// The snapshot guard's percentage; `None`: the server's `import.max_shrink_percent`.
    pub max_shrink_percent: Option<u32>,
}

/// Receives the upload and imports it; returns the stored report.
pub async fn upload_and_import(
    state: &Arc<AppState>,
    kind: ImportKind,
    upload: UploadOptions,
    mut multipart: poem::web::Multipart,
) -> Result<ImportReport, ServiceError> {
    let Ok(_one_at_a_time) = state.upload.try_lock() else {
        return Err(ServiceError::Conflict {
            explanation: "another upload is being imported; wait for it \
                          (GET /api/imports/progress) and send this one again"
                .into(),
        });
    };
    let bad_body = |message: String| ServiceError::InvalidValue {
        what: "body",
        value: String::new(),
        message,
    };
    let dir = state.data_dir.join(UPLOADS_DIR);
    tokio::fs::create_dir_all(&dir).await?;
    let stamp = jiff::Timestamp::now().as_microsecond();
    // Each received file, as the client named it; removed however the request ends.
    let mut received: Vec<(Removed, String)> = Vec::new();
    let outcome = async {
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) if field.name() == Some(FILE_FIELD) => field,
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(error) => return Err(bad_body(format!("not a multipart body: {error}"))),
            };
            if !received.is_empty() && kind != ImportKind::Jobs {
                return Err(bad_body(format!(
                    "only a job feed takes several `{FILE_FIELD}` fields (one feed split over \
                     files, one snapshot); upload the other files one by one"
                )));
            }
            let client_name = field.file_name().unwrap_or("upload.csv").to_owned();
            let path = dir.join(format!(
                "{stamp}-{}-{}",
                received.len(),
                safe_file_name(&client_name)
            ));
            received.push((Removed(path.clone()), client_name.clone()));
            set_progress(state, |progress| {
                let bytes_before = progress.as_ref().map_or(0, |p| p.bytes_received);
                *progress = Some(UploadProgress {
                    file: client_name,
                    kind: kind.as_str().to_owned(),
                    stage: "receiving",
                    started_at: stamp,
                    bytes_received: bytes_before,
                    bytes_imported: 0,
                });
            });
            receive(state, field, &path).await?;
        }
        if received.is_empty() {
            return Err(bad_body(format!(
                "the multipart body has no `{FILE_FIELD}` field"
            )));
        }
        let files: Vec<(&Path, &str)> = received
            .iter()
            .map(|(removed, name)| (removed.0.as_path(), name.as_str()))
            .collect();
        import(state, kind, upload, &files).await
    }
    .await;
    set_progress(state, |progress| *progress = None);
    outcome
}

async fn receive(
    state: &AppState,
    field: poem::web::Field,
    path: &Path,
) -> Result<(), ServiceError> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut reader = field.into_async_read();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut received = 0u64;
    let before = state
        .upload_progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .map_or(0, |progress| progress.bytes_received);
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buffer)
            .await
            .map_err(|error| ServiceError::InvalidValue {
                what: "body",
                value: String::new(),
                message: format!("the upload broke off after {received} bytes: {error}"),
            })?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n]).await?;
        received += n as u64;
        set_progress(state, |progress| {
            if let Some(progress) = progress {
                progress.bytes_received = before + received;
            }
        });
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(())
}

/// Imports the received `files` (path, the client's name) as one group.
async fn import(
    state: &Arc<AppState>,
    kind: ImportKind,
    upload: UploadOptions,
    files: &[(&Path, &str)],
) -> Result<ImportReport, ServiceError> {
    set_progress(state, |progress| {
        if let Some(progress) = progress {
            progress.stage = "importing";
        }
    });
    let watcher = Arc::clone(state);
    let progress: ProgressFactory = Arc::new(move |_, _| {
        let watcher = Arc::clone(&watcher);
        Box::new(move |bytes| {
            set_progress(&watcher, |progress| {
                if let Some(progress) = progress {
                    progress.bytes_imported = bytes;
                }
            });
        })
    });
    let options = ImportOptions {
        encoding: upload.encoding.unwrap_or(state.import_encoding),
        time_zone: state.messages.time_zone.clone(),
        progress: Some(progress),
        max_shrink_percent: (!upload.allow_shrink).then_some(
            upload
                .max_shrink_percent
                .unwrap_or(state.max_shrink_percent),
        ),
        // The report names the files as the client did, not their paths in the data
        // directory.
        file_names: Some(files.iter().map(|(_, name)| (*name).to_owned()).collect()),
    };
    let group = ImportGroup {
        kind,
        files: files.iter().map(|(path, _)| path.to_path_buf()).collect(),
    };
    let outcome = import_group(state.store.as_ref(), &group, &options).await;
    super::metrics::record_import(&outcome.report);
    // Even a rejected import may have committed its report; nothing cached outlives it.
    state.hot.data_changed();
    match outcome.error {
        None => Ok(outcome.report),
        Some(error) => {
            let mut message = outcome.report.error.unwrap_or_else(|| error.to_string());
            for (path, name) in files {
                message = message.replace(&path.display().to_string(), name);
            }
            Err(ServiceError::ImportRejected { message })
        }
    }
}
