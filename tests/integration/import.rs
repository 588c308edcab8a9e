//! Importing every input: real exports, bad input, encodings, idempotency, snapshots.

use mailscore::domain::{JobId, Severity, UserId};
use mailscore::ingest::{EncodingChoice, ImportKind, IngestError};
use mailscore::store::prelude::*;

use crate::helpers::{TestStore, job_row, jobs_csv, shared_data};

#[tokio::test]
async fn every_shared_export_imports_with_the_right_counts_and_no_spurious_errors() {
    let Some(shared) = shared_data() else { return };
    let t = TestStore::new();
    // (file, kind recognised, rows imported, junk rows skipped, blank rows, exact repeats)
    let expected = [
        ("city_view.csv", "cities", 1916, 1, 1, 0),
        ("employment_type_view.csv", "employment-types", 10, 0, 0, 0),
        ("feature_view.csv", "features", 44, 1, 2, 0),
        ("occupation_view.csv", "occupations", 67, 0, 4, 101),
        ("prefecture_view.csv", "prefectures", 47, 1, 1, 0),
        ("salary_type_view.csv", "salary-types", 4, 1, 1, 0),
        ("semrush_kw20250824_sample.csv", "keywords", 1000, 0, 0, 0),
    ];
    for (file, kind, imported, skipped, blank, repeats) in expected {
        let report = t
            .import(ImportKind::Masters, &shared.join(file))
            .await
            .unwrap();
        assert_eq!(report.kind, kind, "{file}");
        assert_eq!(report.rows_imported, imported, "{file}: {report:#?}");
        assert_eq!(report.rows_skipped, skipped, "{file}: {:?}", report.issues);
        assert_eq!(report.blank_rows, blank, "{file}");
        assert_eq!(report.count("duplicates_in_file"), repeats, "{file}");
        assert_eq!(report.warnings, 0, "{file}: {:?}", report.issues);
        // The only skipped rows are the trailing notes rows, reported with line and column.
        for issue in &report.issues {
            assert_eq!(issue.severity, Severity::Error);
            assert_eq!(issue.value.as_deref(), Some("GPT指示"), "{file}: {issue:?}");
            assert!(issue.line > 1 && issue.column.is_some());
        }
    }
    let masters = t.store.masters().await.unwrap();
    assert_eq!(masters.cities.len(), 1916);
    let sapporo = masters
        .cities
        .iter()
        .find(|c| c.city_cd.get() == 1100)
        .unwrap();
    assert_eq!(
        (sapporo.latitude, sapporo.is_special_city_top),
        (None, true)
    );
    let feature = masters
        .features
        .iter()
        .find(|f| f.feature_cd == 102)
        .unwrap();
    assert_eq!(feature.match_keywords, ["外国人", "留学生"]);
    assert_eq!(feature.ng_keywords, ["外国人不可", "留学生不可"]);
    assert!(
        !masters
            .features
            .iter()
            .find(|f| f.feature_cd == 400)
            .unwrap()
            .is_enabled
    );
    let keyword = &masters.keywords[0];
    assert_eq!(
        (keyword.keyword.as_str(), keyword.volume),
        ("バイト", 246_000)
    );
    assert_eq!(keyword.intents, ["Informational", "Commercial"]);
    let occupation = masters
        .occupations
        .iter()
        .find(|o| o.jobtype_detail == Some(6))
        .unwrap();
    assert_eq!(
        (
            occupation.occupation_cd1,
            occupation.jobtype_detail_name.as_str()
        ),
        (100, "キッチンスタッフ")
    );
}

#[tokio::test]
async fn a_master_import_replaces_the_builtin_set_and_each_kind_is_recognised_from_its_header() {
    let t = TestStore::new();
    let before = t.store.masters().await.unwrap();
    assert_eq!(
        before.prefectures.len(),
        47,
        "built-in defaults without any import"
    );
    let path = t.file(
        "types.csv",
        "salary_type_cd,json_ld_type,name\n1,HOUR,時給\n2,DAY,日給\n",
    );
    t.import(ImportKind::Masters, &path).await.unwrap();
    let after = t.store.masters().await.unwrap();
    assert_eq!(after.salary_types.len(), 2);
    assert_eq!(
        after.employment_types, before.employment_types,
        "other kinds keep their sets"
    );
}

#[tokio::test]
async fn a_file_missing_a_required_column_is_rejected_whole_and_changes_nothing() {
    let t = TestStore::new();
    let good = t.file("jobs.csv", jobs_csv(&[job_row(1, "A"), job_row(2, "B")]));
    t.import(ImportKind::Jobs, &good).await.unwrap();
    let header_without_fee = jobs_csv(&[job_row(3, "C")]).replacen(",fee,", ",fee_yen,", 1);
    let bad = t.file("bad.csv", header_without_fee);
    let error = t.import(ImportKind::Jobs, &bad).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, IngestError::MissingColumns { .. }));
    assert!(
        message.contains("bad.csv") && message.contains("fee") && message.contains("found: job_id"),
        "{message}"
    );
    let columns = t.store.job_columns().await.unwrap();
    assert_eq!(
        columns.job_id,
        vec![1, 2],
        "the previous snapshot is untouched"
    );
    assert_eq!(
        t.store.import_summaries(10).await.unwrap().len(),
        1,
        "nothing was written"
    );
}

#[tokio::test]
async fn bad_rows_are_skipped_or_warned_with_line_column_and_value() {
    let t = TestStore::new();
    let rows = [
        job_row(1, "A"),
        job_row(2, "B").replace(",800,", ",無料,"),
        "ABC123,EC9,株式会社,X,13,13113,1,1200,1400,800,1,100,,,".to_owned(),
        ",EC9,株式会社,X,13,13113,1,1200,1400,800,1,100,,,".to_owned(),
        job_row(5, "E").replace("2025-09-30 23:59:59+09", "2025/13/45"),
        job_row(6, "F").replacen(",13,", ",99,", 1),
        ",,,,".to_owned(),
        "備考,このファイルは手作業で作成".to_owned(),
    ];
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", jobs_csv(&rows)))
        .await
        .unwrap();
    assert_eq!(report.rows_imported, 4, "{:#?}", report.issues);
    assert_eq!(report.rows_skipped, 3);
    assert_eq!(report.blank_rows, 1);
    let find = |line: u64| {
        report
            .issues
            .iter()
            .find(|i| i.line == line)
            .unwrap_or_else(|| panic!("no issue at line {line}"))
    };
    assert_eq!(
        (
            find(3).column.as_deref(),
            find(3).value.as_deref(),
            find(3).severity
        ),
        (Some("fee"), Some("無料"), Severity::Warning)
    );
    assert_eq!(
        (
            find(4).column.as_deref(),
            find(4).value.as_deref(),
            find(4).severity
        ),
        (Some("job_id"), Some("ABC123"), Severity::Error)
    );
    assert_eq!(find(5).severity, Severity::Error);
    assert_eq!(find(6).column.as_deref(), Some("end_at"));
    assert_eq!(find(7).column.as_deref(), Some("pref_cd"));
    assert!(
        find(7)
            .message
            .starts_with("unknown prefecture code in 1 row; kept"),
        "{}",
        find(7).message
    );
    assert_eq!(find(9).value.as_deref(), Some("備考"));
    let columns = t.store.job_columns().await.unwrap();
    let job2 = columns.fields(columns.position(JobId::new(2)).unwrap());
    assert_eq!(job2.fee, None, "an invalid fee is treated as missing");
    let job6 = columns.fields(columns.position(JobId::new(6)).unwrap());
    assert_eq!(
        job6.pref_cd.map(|p| p.get()),
        Some(99),
        "a well-formed code the masters do not know is kept"
    );
    let stored = t.store.import_report(report.id).await.unwrap().unwrap();
    assert_eq!(stored, report, "the report is stored and retrievable");
}

#[tokio::test]
async fn a_snapshot_deactivates_absent_jobs_and_the_last_repeat_wins() {
    let t = TestStore::new();
    let first = t.file(
        "day1.csv",
        jobs_csv(&[job_row(1, "A"), job_row(2, "B"), job_row(3, "C")]),
    );
    t.import(ImportKind::Jobs, &first).await.unwrap();
    let second = t.file(
        "day2.csv",
        jobs_csv(&[job_row(2, "B2"), job_row(4, "D"), job_row(4, "D-last")]),
    );
    // Two of three jobs leave: past the snapshot guard, so forced.
    let report = t.import_allowing_shrink(&second).await.unwrap();
    assert_eq!(report.count("jobs_deactivated"), 2);
    assert_eq!(report.count("duplicates_in_file"), 1);
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.line == 4 && i.message.contains("line 3"))
    );
    let columns = t.store.job_columns().await.unwrap();
    assert_eq!(columns.job_id, vec![2, 4]);
    assert_eq!(columns.fields(1).application_name, "D-last");
    let records = t
        .store
        .jobs(&[JobId::new(1), JobId::new(4), JobId::new(9)])
        .await
        .unwrap();
    let old = records[0].as_ref().unwrap();
    assert!(!old.active, "absent jobs are kept, inactive");
    assert_eq!(old.value("application_name"), Some("A"));
    let current = records[1].as_ref().unwrap();
    assert!(current.active);
    assert_eq!(
        current.value("image_url_1"),
        Some("https://example.jp/4.jpg"),
        "unknown columns are kept"
    );
    assert_eq!(current.value("application_name"), Some("D-last"));
    assert!(records[2].is_none());
    let counts = t.store.job_counts().await.unwrap();
    assert_eq!((counts.active, counts.total), (2, 4));
}

#[tokio::test]
async fn shift_jis_input_is_detected_and_decoded() {
    let t = TestStore::new();
    let text = jobs_csv(&[job_row(1, "カフェのホールスタッフ【日払いOK】")]);
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    let report = t
        .import(ImportKind::Jobs, &t.file("sjis.csv", &sjis))
        .await
        .unwrap();
    assert_eq!(report.encoding, "Shift_JIS");
    assert_eq!(report.rows_imported, 1);
    let columns = t.store.job_columns().await.unwrap();
    assert_eq!(
        columns.fields(0).application_name,
        "カフェのホールスタッフ【日払いOK】"
    );
    assert_eq!(columns.fields(0).company_name, "株式会社テスト");
    // UTF-8 with a BOM reads the first column's name correctly.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let report = t
        .import(ImportKind::Jobs, &t.file("bom.csv", bom))
        .await
        .unwrap();
    assert_eq!(
        (report.encoding.as_str(), report.rows_imported),
        ("UTF-8", 1)
    );
}

const ACTIONS: &str = "user_id,job_id,action_type,action_at,source,section,endcl_cd,pref_cd,fee,device\n\
u1,1,applied,2025-07-02 13:45:12+09,email,top5,EC1,13,800,ios\n\
u1,1,applied,2025-07-02 04:45:12+00,email,top5,EC1,13,800,ios\n\
u2,2,click,2025-07-03 09:00:00,web,,,,,\n\
u3,3,purchase,2025-07-03 09:00:00,web,,,,,\n\
,3,click,2025-07-03 09:00:00,web,,,,,\n\
u3,3,click,yesterday,web,,,,,\n\
u4,999,open,2025-07-03 09:00:00+09,mail,,,,,\n";

#[tokio::test]
async fn actions_reingested_are_not_double_counted() {
    let t = TestStore::new();
    t.import(
        ImportKind::Jobs,
        &t.file("jobs.csv", jobs_csv(&[job_row(2, "B")])),
    )
    .await
    .unwrap();
    let path = t.file("actions.csv", ACTIONS);
    let first = t.import(ImportKind::Actions, &path).await.unwrap();
    assert_eq!(first.rows_read, 7);
    assert_eq!(first.rows_skipped, 3, "{:#?}", first.issues);
    assert_eq!(
        first.rows_imported, 3,
        "the same instant with two offsets is one action"
    );
    assert_eq!(first.count("already_stored"), 1);
    assert!(
        first
            .issues
            .iter()
            .any(|i| i.column.as_deref() == Some("source") && i.severity == Severity::Warning)
    );
    let second = t.import(ImportKind::Actions, &path).await.unwrap();
    assert_eq!(second.rows_imported, 0);
    assert_eq!(second.count("already_stored"), 4);
    assert_eq!(t.store.action_count().await.unwrap(), 3);

    let all = t.store.actions_between(0, i64::MAX).await.unwrap();
    assert_eq!(all.len(), 3);
    let click = (0..all.len())
        .map(|i| all.row(i))
        .find(|r| r.user_id == "u2")
        .unwrap();
    assert_eq!(
        click.endcl_cd,
        Some("EC2"),
        "empty snapshot cells are filled from the known job"
    );
    assert_eq!(
        (click.pref_cd, click.fee, click.feature_codes),
        (13, 800, Some(&[100, 103][..]))
    );
    let applied = (0..all.len())
        .map(|i| all.row(i))
        .find(|r| r.user_id == "u1")
        .unwrap();
    assert_eq!(
        applied.extra,
        Some(r#"{"device":"ios"}"#),
        "unknown columns are kept with the record"
    );
    let unknown_job = (0..all.len())
        .map(|i| all.row(i))
        .find(|r| r.user_id == "u4")
        .unwrap();
    assert_eq!(
        (unknown_job.job_id, unknown_job.pref_cd),
        (999, 0),
        "actions of unknown jobs are kept"
    );
}

#[tokio::test]
async fn users_upsert_and_invalid_emails_are_row_errors() {
    let t = TestStore::new();
    let first = t.file(
        "users.csv",
        "user_id,email,name,pref_cd,city_cd,is_active,subscribed,member_rank\n\
         1,naoki@example.com,直己,13,13210,1,1,gold\n\
         2,not-an-email,,,,,,\n\
         3,c@example.jp,,,,no,maybe,\n",
    );
    let report = t.import(ImportKind::Users, &first).await.unwrap();
    assert_eq!(
        (report.rows_imported, report.rows_skipped, report.warnings),
        (2, 1, 1)
    );
    assert_eq!(report.issues[0].column.as_deref(), Some("email"));
    let update = t.file(
        "users2.csv",
        "email,user_id\nnew@example.com,1\nd@example.com,4\n",
    );
    let report = t.import(ImportKind::Users, &update).await.unwrap();
    assert_eq!(
        (
            report.count("users_inserted"),
            report.count("users_updated")
        ),
        (1, 1)
    );
    let users = t.store.users().await.unwrap();
    assert_eq!(users.len(), 3);
    let naoki = t
        .store
        .user(&UserId::parse("1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(naoki.email.as_str(), "new@example.com");
    let three = t
        .store
        .user(&UserId::parse("3").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !three.is_active && three.subscribed,
        "an invalid boolean keeps the default"
    );
}

#[tokio::test]
async fn the_store_reopens_with_its_data() {
    let t = TestStore::new();
    t.import(
        ImportKind::Jobs,
        &t.file("jobs.csv", jobs_csv(&[job_row(1, "A")])),
    )
    .await
    .unwrap();
    let dir = t.dir;
    drop(t.store);
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.job_columns().await.unwrap().len(), 1);
}

/// A store of schema version 1 (feed rows LZ4-compressed with the header id inside) opens
/// migrated: every row reads back the same, compressed with a dictionary from then on.
#[tokio::test]
async fn a_schema_1_store_is_migrated_on_open_and_reads_the_same() {
    use mailscore::domain::JobId;
    use mailscore::domain::job::JobRow;
    use mailscore::store::redb::codec::decode_job_row;
    use redb::{ReadableTable, TableDefinition};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    const JOB_ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("job_rows");
    const DICTIONARIES: TableDefinition<u64, &[u8]> = TableDefinition::new("row_dictionaries");

    let t = TestStore::new();
    let rows: Vec<String> = (1..=300)
        .map(|i| job_row(i, &format!("ホールスタッフ {}", i % 13)))
        .collect();
    t.import(ImportKind::Jobs, &t.file("jobs.csv", jobs_csv(&rows)))
        .await
        .unwrap();
    let ids: Vec<JobId> = (1..=300).map(JobId::new).collect();
    let before = t.store.jobs(&ids).await.unwrap();
    assert!(before.iter().all(Option::is_some));
    let dir = t.dir;
    drop(t.store);

    // Write the rows back as schema 1 stored them and say so.
    let path = dir.path().join(mailscore::store::redb::DATABASE_FILE);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut dictionaries = txn.open_table(DICTIONARIES).unwrap();
            let mut table = txn.open_table(JOB_ROWS).unwrap();
            let stored: Vec<(u64, Vec<u8>)> = table
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value(), v.value().to_vec())
                })
                .collect();
            for (job_id, bytes) in stored {
                let header_id = u64::from_le_bytes(bytes[9..17].try_into().unwrap());
                let dictionary = dictionaries
                    .get(header_id)
                    .unwrap()
                    .map(|g| g.value().to_vec());
                let (header_id, values) =
                    decode_job_row(&bytes[8..], dictionary.as_deref()).unwrap();
                let mut raw = header_id.to_le_bytes().to_vec();
                raw.extend(JobRow::from_values(values.iter().map(String::as_str)).as_packed());
                let mut v1 = bytes[..8].to_vec();
                v1.extend(lz4_flex::compress_prepend_size(&raw));
                table.insert(job_id, v1.as_slice()).unwrap();
            }
            dictionaries.retain(|_, _| false).unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 1u32.to_le_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }

    let store = mailscore::store::redb::RedbStore::open(dir.path()).expect("the store migrates");
    assert_eq!(store.jobs(&ids).await.unwrap(), before);
    assert_eq!(store.job_columns().await.unwrap().len(), 300);
    drop(store);
    // Opening again finds schema 2: nothing left to migrate.
    let store = mailscore::store::redb::RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.jobs(&ids).await.unwrap(), before);
}

#[tokio::test]
async fn a_feed_cut_off_inside_a_quoted_field_skips_its_last_job_and_says_so() {
    let t = TestStore::new();
    let mut text = jobs_csv(&[job_row(1, "A"), job_row(2, "B"), job_row(3, "C")]);
    // The upload stopped inside the quoted catch copy of job 3.
    let cut = text.rfind("日払いOK").unwrap();
    text.truncate(cut);
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", text))
        .await
        .unwrap();
    assert_eq!(
        (report.rows_imported, report.rows_skipped, report.warnings),
        (2, 1, 0),
        "{:#?}",
        report.issues
    );
    let issue = &report.issues[0];
    assert_eq!((issue.line, issue.severity), (4, Severity::Error));
    assert!(
        issue
            .message
            .contains("cut off by the end of the file (inside a quoted field"),
        "{issue:?}"
    );
    assert_eq!(t.store.job_columns().await.unwrap().job_id, vec![1, 2]);
}

#[tokio::test]
async fn a_feed_cut_off_between_fields_skips_its_short_last_job_but_a_missing_final_line_break_is_fine()
 {
    let t = TestStore::new();
    let complete = jobs_csv(&[job_row(1, "A"), job_row(2, "B"), job_row(3, "C")]);
    // Cut after the fee of job 3: a short last record with no line break after it.
    let cut = complete.rfind(",800,").unwrap() + 4;
    let report = t
        .import(ImportKind::Jobs, &t.file("cut.csv", &complete[..cut]))
        .await
        .unwrap();
    assert_eq!(
        (report.rows_imported, report.rows_skipped, report.warnings),
        (2, 1, 0),
        "{:#?}",
        report.issues
    );
    assert_eq!(report.issues[0].line, 4);
    assert!(
        report.issues[0].message.contains("cut off"),
        "{:?}",
        report.issues
    );
    // The whole file without its final line break: every row is complete.
    let whole = complete.trim_end_matches('\n');
    let report = t
        .import(ImportKind::Jobs, &t.file("whole.csv", whole))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (3, 0));
    // A short row in the middle of a file is a warning, not a cut.
    let short_middle = jobs_csv(&[
        job_row(1, "A"),
        "2,EC2,株式会社,B".to_owned(),
        job_row(3, "C"),
    ]);
    let report = t
        .import(ImportKind::Jobs, &t.file("short.csv", short_middle))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (3, 0));
}

#[tokio::test]
async fn a_master_cut_off_inside_a_multi_line_keyword_cell_skips_its_last_row() {
    let t = TestStore::new();
    let text = "feature_cd,name,group_name,is_enabled,match_keywords,ng_keywords\n\
                100,日払い,給与,1,\"日払い\n即日払い\",\n\
                101,週払い,給与,1,\"週払い\n";
    let report = t
        .import(ImportKind::Features, &t.file("features.csv", text))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (1, 1));
    assert_eq!(report.issues[0].line, 4, "{:?}", report.issues);
    assert!(report.issues[0].message.contains("cut off"));
    let masters = t.store.masters().await.unwrap();
    assert_eq!(masters.features.len(), 1);
    assert_eq!(masters.features[0].match_keywords, ["日払い", "即日払い"]);
}

/// The warnings of a master import as (line, column, value), in the order reported.
fn warned_cells(report: &mailscore::domain::ImportReport) -> Vec<(u64, String, String)> {
    report
        .issues
        .iter()
        .filter(|issue| issue.severity == Severity::Warning)
        .map(|issue| {
            (
                issue.line,
                issue.column.clone().unwrap_or_default(),
                issue.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_bad_cell_of_a_prefecture_or_city_is_a_warning_and_the_row_is_still_imported() {
    let t = TestStore::new();
    let prefectures = "pref_cd,url_segment,name,region,category_id,latitude,longitude\n\
                       1,hokkaido,北海道,北海道,1,43.06,141.35\n\
                       13,tokyo,東京都,関東,3,notanumber,139.69\n";
    let report = t
        .import(
            ImportKind::Prefectures,
            &t.file("prefectures.csv", prefectures),
        )
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (2, 0));
    assert_eq!(
        warned_cells(&report),
        [(3, "latitude".to_owned(), "notanumber".to_owned())],
        "{:#?}",
        report.issues
    );
    assert!(!report.issues[0].message.is_empty(), "the reason is given");

    let cities = "city_cd,pref_cd,pref_name,name,latitude,longitude,is_special_city\n\
                  1101,1,北海道,札幌市中央区,43.05,141.35,1\n\
                  13104,13,東京都,新宿区,north,139.70,0\n\
                  13113,13,東京都,渋谷区,35.66,139.70,perhaps\n";
    let report = t
        .import(ImportKind::Cities, &t.file("cities.csv", cities))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (3, 0));
    assert_eq!(
        warned_cells(&report),
        [
            (3, "latitude".to_owned(), "north".to_owned()),
            (4, "is_special_city".to_owned(), "perhaps".to_owned()),
        ],
        "{:#?}",
        report.issues
    );

    let masters = t.store.masters().await.unwrap();
    let tokyo = masters
        .prefectures
        .iter()
        .find(|p| p.pref_cd.get() == 13)
        .expect("the prefecture with a bad latitude is imported");
    assert_eq!((tokyo.latitude, tokyo.longitude), (None, Some(139.69)));
    let city = |code: u32| {
        masters
            .cities
            .iter()
            .find(|c| c.city_cd.get() == code)
            .unwrap_or_else(|| panic!("city {code} is imported"))
    };
    assert_eq!(city(13104).latitude, None, "a bad latitude is no value");
    assert!(
        !city(13113).is_special_city,
        "a bad flag is no value: false"
    );
    assert!(city(1101).is_special_city);
}

#[tokio::test]
async fn a_bad_cell_of_any_other_master_is_a_warning_and_the_row_is_still_imported() {
    let t = TestStore::new();
    let cases = [
        (
            ImportKind::Adjacency,
            "city_cd,adjacent_city_cd,distance_km\n13104,13113,far\n",
            ("distance_km", "far"),
        ),
        (
            ImportKind::Occupations,
            "occupation_cd1_v2,occupation_cd2_v2,occupation_cd3_v2,occupation_cd_name,\
             jobtype_detail_v2,jobtype_detail_name\n1,1x,1,飲食・フード系,101,ホール\n",
            ("occupation_cd2_v2", "1x"),
        ),
        (
            ImportKind::Features,
            "feature_cd,name,group_name,is_enabled,match_keywords,ng_keywords\n\
             100,日払い,給与,maybe,日払い,\n",
            ("is_enabled", "maybe"),
        ),
        (
            ImportKind::Keywords,
            "Keyword,Intent,Volume,Keyword Difficulty,CPC (USD)\n\
             渋谷 バイト,Commercial,lots,12,0.5\n",
            ("Volume", "lots"),
        ),
    ];
    for (kind, text, (column, value)) in cases {
        let report = t.import(kind, &t.file("master.csv", text)).await.unwrap();
        assert_eq!(
            (report.rows_imported, report.rows_skipped),
            (1, 0),
            "{kind:?}: {:#?}",
            report.issues
        );
        assert_eq!(
            warned_cells(&report),
            [(2, column.to_owned(), value.to_owned())],
            "{kind:?}: {:#?}",
            report.issues
        );
    }
    let masters = t.store.masters().await.unwrap();
    assert_eq!(masters.adjacency[0].distance_km, None);
    assert!(masters.features[0].is_enabled, "a bad flag is the default");
    assert_eq!(masters.keywords[0].volume, 0);
}

#[tokio::test]
async fn a_row_with_more_fields_than_the_header_is_skipped_with_the_counts() {
    let t = TestStore::new();
    let rows = [
        job_row(1, "A"),
        format!("{},extra,more", job_row(2, "B")),
        job_row(3, "C"),
    ];
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", jobs_csv(&rows)))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.rows_skipped), (2, 1));
    let issue = &report.issues[0];
    assert_eq!(
        (issue.line, issue.severity, issue.message.as_str()),
        (
            3,
            Severity::Error,
            "unusable row: 20 fields, the header has 18"
        )
    );
    assert_eq!(t.store.job_columns().await.unwrap().job_id, vec![1, 3]);
}

#[tokio::test]
async fn a_row_with_fewer_fields_than_the_header_is_imported_with_one_warning() {
    let t = TestStore::new();
    // Job 2 lacks its last two cells, del_flg and image_url_1.
    let short = job_row(2, "B").replace(",0,https://example.jp/2.jpg", "");
    let rows = [job_row(1, "A"), short, job_row(3, "C")];
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", jobs_csv(&rows)))
        .await
        .unwrap();
    assert_eq!(
        (report.rows_imported, report.rows_skipped, report.warnings),
        (3, 0, 1)
    );
    let issue = &report.issues[0];
    assert_eq!(
        (
            issue.line,
            issue.severity,
            issue.column.as_deref(),
            issue.message.as_str()
        ),
        (
            3,
            Severity::Warning,
            None,
            "16 fields, the header has 18; the missing cells are no value"
        )
    );
    let record = t.store.jobs(&[JobId::new(2)]).await.unwrap()[0]
        .clone()
        .unwrap();
    assert!(record.active);
    assert_eq!(record.value("application_name"), Some("B"));
    assert_eq!(record.value("image_url_1"), None);
}

#[tokio::test]
async fn row_lines_are_where_the_row_starts_with_lf_or_crlf_and_quoted_newlines() {
    for line_end in ["\n", "\r\n"] {
        let t = TestStore::new();
        let rows = [
            // Lines 2 to 4: a catch copy of three lines.
            job_row(1, "A").replace("未経験歓迎, 日払いOK", "未経験歓迎\n日払いOK\n週払いOK"),
            // Line 5 is empty.
            String::new(),
            job_row(2, "B").replace(",800,", ",無料,"),
            format!("{},extra", job_row(3, "C")),
        ];
        let text = jobs_csv(&rows).replace('\n', line_end);
        let report = t
            .import(ImportKind::Jobs, &t.file("jobs.csv", text))
            .await
            .unwrap();
        let lines: Vec<(u64, Option<&str>)> = report
            .issues
            .iter()
            .map(|i| (i.line, i.column.as_deref()))
            .collect();
        assert_eq!(lines, [(6, Some("fee")), (7, None)], "{line_end:?}");
        let columns = t.store.job_columns().await.unwrap();
        assert_eq!(columns.job_id, vec![1, 2], "{line_end:?}");
    }
}

#[tokio::test]
async fn a_feed_read_in_the_wrong_forced_encoding_is_refused_and_changes_nothing() {
    let t = TestStore::new();
    let titles = [
        "カフェのホールスタッフ【日払いOK】",
        "倉庫内の軽作業スタッフ",
        "コンビニエンスストアの店員",
        "データ入力（在宅可）",
    ];
    let rows: Vec<String> = (1..)
        .zip(titles)
        .map(|(job_id, title)| job_row(job_id, title))
        .collect();
    let utf8 = jobs_csv(&rows);
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&utf8);
    assert!(!unmappable);
    t.import(ImportKind::Jobs, &t.file("good.csv", &utf8))
        .await
        .unwrap();
    let ids: Vec<JobId> = (1..=4).map(JobId::new).collect();
    // Compared as text: the columns hold NaN for the missing coordinates.
    let before = format!(
        "{:?}",
        (
            t.store.job_columns().await.unwrap(),
            t.store.jobs(&ids).await.unwrap(),
        )
    );
    let reports = t.store.import_summaries(10).await.unwrap().len();
    let cases = [
        (
            "sjis.csv",
            sjis.to_vec(),
            EncodingChoice::Utf8,
            "UTF-8",
            "Shift_JIS",
            "shift_jis",
        ),
        (
            "utf8.csv",
            utf8.into_bytes(),
            EncodingChoice::ShiftJis,
            "Shift_JIS",
            "UTF-8",
            "utf-8",
        ),
    ];
    for (file, bytes, forced, tried, right, flag) in cases {
        let error = t
            .import_as(ImportKind::Jobs, &t.file(file, bytes), forced)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, IngestError::WrongEncoding { .. }),
            "{message}"
        );
        for part in [
            file.to_owned(),
            "of the text cells".to_owned(),
            format!("are not valid {tried} (given with --encoding)"),
            format!(
                "the file looks like {right}; hint: pass --encoding {flag} or leave --encoding auto"
            ),
        ] {
            assert!(message.contains(&part), "{message} lacks {part:?}");
        }
        let after = format!(
            "{:?}",
            (
                t.store.job_columns().await.unwrap(),
                t.store.jobs(&ids).await.unwrap(),
            )
        );
        assert_eq!(after, before, "{file}: the stored jobs are unchanged");
        assert_eq!(
            t.store.import_summaries(10).await.unwrap().len(),
            reports,
            "{file}: no report was added"
        );
    }
}

#[tokio::test]
async fn a_feed_with_one_cell_in_another_encoding_still_imports_with_a_warning() {
    let t = TestStore::new();
    let rows: Vec<String> = (1..=4)
        .map(|job_id| job_row(job_id, "ホールスタッフ"))
        .collect();
    let text = jobs_csv(&rows);
    // Job 2's company name was pasted in from a Shift_JIS file.
    let (stray, _, _) = encoding_rs::SHIFT_JIS.encode("株式会社テスト");
    let at = text.find("2,EC2,").unwrap() + "2,EC2,".len();
    let mut bytes = text.as_bytes()[..at].to_vec();
    bytes.extend_from_slice(&stray);
    bytes.extend_from_slice(&text.as_bytes()[at + "株式会社テスト".len()..]);
    let report = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", bytes))
        .await
        .unwrap();
    assert_eq!(report.encoding, "UTF-8");
    assert_eq!((report.rows_imported, report.warnings), (4, 1));
    let issue = &report.issues[0];
    assert_eq!(
        (issue.line, issue.column.as_deref(), issue.severity),
        (3, Some("company_name"), Severity::Warning)
    );
    assert!(issue.message.starts_with("not valid UTF-8"), "{issue:?}");

    // Every importer says so, not only the job feed's.
    let mut users = b"user_id,email,name\nu1,u1@example.jp,".to_vec();
    users.extend_from_slice(&encoding_rs::SHIFT_JIS.encode("直己").0);
    users.push(b'\n');
    for n in 2..=20 {
        users.extend_from_slice(format!("u{n},u{n}@example.jp,花子{n}\n").as_bytes());
    }
    let report = t
        .import(ImportKind::Users, &t.file("users.csv", users))
        .await
        .unwrap();
    assert_eq!((report.rows_imported, report.warnings), (20, 1));
    let issue = &report.issues[0];
    assert_eq!(
        (issue.line, issue.column.as_deref()),
        (2, Some("name")),
        "{issue:?}"
    );
    assert!(issue.message.starts_with("not valid UTF-8"), "{issue:?}");
}

#[tokio::test]
async fn a_feed_detected_as_utf8_from_its_start_but_shift_jis_later_is_refused() {
    let t = TestStore::new();
    // More than the 64 KiB detection reads of ASCII rows, then rows in Shift_JIS.
    let mut rows: Vec<String> = (1..=400)
        .map(|job_id| job_row(job_id, "Hall staff"))
        .collect();
    rows.extend((401..=410).map(|job_id| job_row(job_id, "ホールスタッフ")));
    let text = jobs_csv(&rows)
        .replace("株式会社テスト", "Test Inc.")
        .replace("未経験歓迎, 日払いOK", "no experience needed");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(text.find("ホール").unwrap() > 64 * 1024);
    let error = t
        .import(ImportKind::Jobs, &t.file("jobs.csv", &sjis))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.ends_with(
            "are not valid UTF-8 (detected from the start of the file); \
             the file looks like Shift_JIS; hint: pass --encoding shift_jis"
        ),
        "{message}"
    );
    assert!(t.store.job_columns().await.unwrap().is_empty());
}
