//! PostgreSQL: the mirror on a server shared by workers, through the binary (issue 17).

use crate::pg;

fn query_one(url: &str, sql: &str) -> String {
    let (url, sql) = (url.to_string(), sql.to_string());
    pg::block_on(async move {
        use sqlx::{Connection, Row};
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let row = sqlx::query(&sql).fetch_one(&mut c).await.unwrap();
        row.try_get::<String, _>(0).unwrap()
    })
}

#[test]
fn harness_gives_each_test_its_own_database() {
    let a = pg::fresh_db("harness a");
    let b = pg::fresh_db("harness b");
    assert_ne!(a.name, b.name);
    assert_eq!(query_one(&a.url, "SELECT current_database()::text"), a.name);
    assert_eq!(query_one(&b.url, "SELECT current_database()::text"), b.name);
}

#[test]
fn harness_server_stops_and_serves_again_with_its_data() {
    let mut s = pg::PgServer::start().unwrap_or_else(|e| panic!("{e}"));
    let db = pg::create_db(&s.url("postgres"), "restart");
    let url = db.url.clone();
    pg::block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')")
            .execute(&mut c)
            .await
            .unwrap();
    });
    s.stop();
    let down = pg::block_on(async {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&url).await.is_err()
    });
    assert!(down, "the server still answers after stop()");
    s.serve().unwrap();
    assert_eq!(query_one(&db.url, "SELECT v FROM t"), "kept");
    let root = s.root().to_path_buf();
    drop(s);
    assert!(!root.exists(), "the cluster's folder is left behind");
}
