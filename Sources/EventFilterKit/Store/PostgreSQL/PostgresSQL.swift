/// The store's SQL as PostgreSQL takes it. Store SQL is written once for both backends, with two
/// spellings that only SQLite accepts, rewritten here outside string literals, quoted names and
/// comments:
///
/// - `?` placeholders become `$1`, `$2`, ... in order;
/// - the table name `user`, a reserved word in PostgreSQL (it means `CURRENT_USER` there), is
///   quoted as `"user"`, which names the same table on both backends.
///
///     PostgresSQL.translate("SELECT id FROM user WHERE email = ? AND enabled = ?")
///     // SELECT id FROM "user" WHERE email = $1 AND enabled = $2
enum PostgresSQL {
    static func translate(_ sql: String) -> String {
        let characters = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var parameter = 0
        var index = 0
        func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || scalar == "$" || (scalar.properties.isAlphabetic) || ("0"..."9").contains(scalar)
        }
        while index < characters.count {
            let scalar = characters[index]
            switch scalar {
            case "'", "\"":
                // A literal or a quoted name, to its closing quote (a doubled quote stays inside).
                var end = index + 1
                while end < characters.count {
                    if characters[end] == scalar {
                        if end + 1 < characters.count && characters[end + 1] == scalar { end += 2; continue }
                        break
                    }
                    end += 1
                }
                out.append(contentsOf: characters[index...min(end, characters.count - 1)])
                index = end + 1
            case "-" where index + 1 < characters.count && characters[index + 1] == "-":
                var end = index
                while end < characters.count && characters[end] != "\n" { end += 1 }
                out.append(contentsOf: characters[index..<end])
                index = end
            case "?":
                parameter += 1
                out.append(contentsOf: "$\(parameter)".unicodeScalars)
                index += 1
            default:
                guard isWordCharacter(scalar) else {
                    out.append(scalar)
                    index += 1
                    continue
                }
                var end = index
                while end < characters.count && isWordCharacter(characters[end]) { end += 1 }
                let word = String(String.UnicodeScalarView(characters[index..<end]))
                out.append(contentsOf: word.lowercased() == "user" ? "\"user\"".unicodeScalars : word.unicodeScalars)
                index = end
            }
        }
        return String(out)
    }
}
