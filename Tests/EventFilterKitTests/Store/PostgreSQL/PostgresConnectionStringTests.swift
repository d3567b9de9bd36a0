import EventFilterKit
import XCTest

/// What messages may show of a connection string: everything but the password.
final class PostgresConnectionStringTests: XCTestCase {
    func testThePasswordIsHiddenInEveryFormLibpqAccepts() {
        let cases: [(String, String)] = [
            ("host=db.example.com user=ann password=s3cret dbname=eventfilter",
             "host=db.example.com user=ann password=*** dbname=eventfilter"),
            ("password = 's3 cr\\'et' host=db", "password = *** host=db"),
            ("postgresql://ann:s3cret@db.example.com:5432/eventfilter?sslmode=require",
             "postgresql://ann:***@db.example.com:5432/eventfilter?sslmode=require"),
            ("postgres://ann:p@ss@db/eventfilter", "postgres://ann:***@db/eventfilter"),
            ("postgresql://db/eventfilter?user=ann&password=s3cret&sslmode=disable",
             "postgresql://db/eventfilter?user=ann&password=***&sslmode=disable"),
            ("host=db password=a&b=c sslpassword=key-s3cret", "host=db password=*** sslpassword=***"),
            ("postgresql://db/eventfilter?sslpassword=key-s3cret&user=ann", "postgresql://db/eventfilter?sslpassword=***&user=ann"),
            ("postgresql://ann@db/eventfilter", "postgresql://ann@db/eventfilter"),
            ("host=/run/postgresql dbname=eventfilter", "host=/run/postgresql dbname=eventfilter"),
        ]
        for (raw, redacted) in cases {
            XCTAssertEqual(PostgresConnectionString(raw).redacted, redacted, raw)
        }
    }

    func testMessagesLoseThePasswordAsWrittenAndDecoded() {
        let target = PostgresConnectionString("postgresql://ann:p%40ss-w0rd@db/eventfilter")
        XCTAssertEqual(target.redact(#"unexpected character in URI: "postgresql://ann:p%40ss-w0rd@db/eventfilter""#),
                       #"unexpected character in URI: "postgresql://ann:***@db/eventfilter""#)
        XCTAssertEqual(target.redact(#"bad value "p@ss-w0rd" and "p%40ss-w0rd""#), #"bad value "***" and "***""#)
        // Only whole words: a short password does not cut up the rest of a message.
        let short = PostgresConnectionString("host=db password=a")
        XCTAssertEqual(short.redact("failed at a host"), "failed at *** host")
    }
}
