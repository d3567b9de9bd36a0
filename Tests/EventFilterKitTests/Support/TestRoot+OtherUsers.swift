import Foundation
import XCTest

extension TestRoot {
    /// The `eventfilter` binary where another user can run it: a copy in `directory/bin`.
    ///
    ///     let program = try TestRoot.executableForOtherUsers(in: scratch)   // scratch/bin/eventfilter
    ///     // Apache's CGI child, Postfix's pipe or `runuser -u nobody` runs program.path
    ///
    /// A web server's children, Postfix's pipe transport and `runuser -u nobody` run the program
    /// as nobody or www-data, who cannot reach the build's own copy when the checkout lies in a
    /// directory only its owner may enter (a clone in `mktemp -d`, mode 700). The debug binary
    /// finds Swift's libraries through its absolute run path, so the copy runs anywhere.
    /// `directory` and every directory above it must let others pass (mode o+x); when one does
    /// not, this throws with one line naming it rather than let the other user's run fail
    /// somewhere out of sight.
    static func executableForOtherUsers(in directory: URL) throws -> URL {
        let manager = FileManager.default
        let bin = directory.appendingPathComponent("bin")
        try manager.createDirectory(at: bin, withIntermediateDirectories: true)
        for path in [directory.path, bin.path] {
            try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        var ancestor = directory.standardizedFileURL.resolvingSymlinksInPath()
        while ancestor.path != "/" {
            ancestor.deleteLastPathComponent()
            var status = stat()
            guard stat(ancestor.path, &status) == 0, status.st_mode & S_IXOTH != 0 else {
                throw OtherUsersCannotReach(description: "\(ancestor.path) is closed to other users (mode "
                    + String(status.st_mode & 0o7777, radix: 8) + "), so nobody cannot run a copy of eventfilter under it")
            }
        }
        let copy = bin.appendingPathComponent("eventfilter")
        if !manager.fileExists(atPath: copy.path) {
            try manager.copyItem(at: executable, to: copy)
        }
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        return copy
    }

    /// A directory on the way to the copy is closed to other users.
    struct OtherUsersCannotReach: Error, CustomStringConvertible {
        let description: String
    }
}
