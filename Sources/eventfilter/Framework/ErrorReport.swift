import EventFilterKit
import Foundation

/// Every error as the one plain line the operator reads, and its exit status: 2 for a usage or
/// bad-value error, 1 for the rest. No Swift type names and no Foundation error domains leak out.
///
///     Output.error(ErrorReport.message(error)); exit(ErrorReport.status(error))
enum ErrorReport {
    static func status(_ error: any Error) -> Int32 {
        switch error {
        case let error as EventFilterError: return error.kind == .usage ? 2 : 1
        case is TimeError, is ValueParser.Invalid: return 2
        default: return 1
        }
    }

    static func message(_ error: any Error) -> String {
        let text: String
        switch error {
        case let error as any StorageError:
            text = error.report
        case let error as CustomStringConvertible where !(error is NSError):
            text = error.description
        case let error as CocoaError:
            text = cocoaMessage(error)
        default:
            let nsError = error as NSError
            text = nsError.domain == NSPOSIXErrorDomain
                ? String(cString: strerror(Int32(nsError.code))) : nsError.localizedFailureReason ?? nsError.localizedDescription
        }
        return oneLine(text)
    }

    /// Foundation's file errors, as the path and the system's reason.
    private static func cocoaMessage(_ error: CocoaError) -> String {
        let path = error.filePath ?? error.url?.path
        let underlying = (error.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap {
            $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil
        }
        let reason: String
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: reason = "permission denied"
        case .fileWriteOutOfSpace: reason = "no space left on device"
        case .fileReadInapplicableStringEncoding, .fileReadCorruptFile: reason = "not valid UTF-8 text"
        default: reason = underlying ?? "cannot be read or written"
        }
        return path.map { "\($0): \(reason)" } ?? reason
    }

    /// Line breaks and other control characters become spaces: one error, one line.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        })).trimmingCharacters(in: .whitespaces)
    }
}
