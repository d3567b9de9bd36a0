import Foundation
import XCTest

extension TestRoot {
    /// Fails unless every mail file the file transport wrote passes Python's strict MIME check
    /// (Tests/Support/check_mime.py).
    ///
    ///     try root.assertStrictMIME()
    func assertStrictMIME(file: StaticString = #filePath, line: UInt = #line) throws {
        let files = try mailFiles()
        guard !files.isEmpty else { return }
        let checker = Self.repository.appendingPathComponent("Tests/Support/check_mime.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", checker.path] + files.map(\.path)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, complaint, file: file, line: line)
    }
}
