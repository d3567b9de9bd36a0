import Foundation

/// The CPU time this process has used so far, user and system (the kernel working for it), from
/// `getrusage`; the difference of two readings is what a stage of the run cost. `run --verbose`
/// prints it per stage so a benchmark can see how much of a stage was the kernel's (creating
/// files, writing the store) without a profiler.
///
///     let before = ProcessCPUTime.now()
///     try deliver()
///     let spent = ProcessCPUTime.now() - before   // spent.user, spent.system in seconds
public struct ProcessCPUTime: Sendable, Equatable, Codable {
    public var user = 0.0
    public var system = 0.0

    public init(user: Double = 0, system: Double = 0) {
        self.user = user
        self.system = system
    }

    /// Every thread of the process, including those that have ended.
    public static func now() -> ProcessCPUTime {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return ProcessCPUTime() }
        return ProcessCPUTime(user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
    }

    public static func + (left: ProcessCPUTime, right: ProcessCPUTime) -> ProcessCPUTime {
        ProcessCPUTime(user: left.user + right.user, system: left.system + right.system)
    }

    public static func - (left: ProcessCPUTime, right: ProcessCPUTime) -> ProcessCPUTime {
        ProcessCPUTime(user: left.user - right.user, system: left.system - right.system)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}
