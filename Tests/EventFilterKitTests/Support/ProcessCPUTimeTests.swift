import Foundation
import XCTest

@testable import EventFilterKit

/// The CPU time `run --verbose` prints per stage, and how `run --workers N` adds up its workers'.
final class ProcessCPUTimeTests: XCTestCase {
    /// Work done between two readings shows as user time in their difference: computing until
    /// the kernel's own CPU clock of the process (CLOCK_PROCESS_CPUTIME_ID) has counted 0.2 s,
    /// however busy the machine.
    func testWorkBetweenTwoReadingsIsItsUserTime() {
        func processClock() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let before = ProcessCPUTime.now()
        let clockBefore = processClock()
        let giveUp = Date().addingTimeInterval(60)
        var state: UInt64 = 1
        while processClock() - clockBefore < 0.2 && Date() < giveUp {
            for _ in 0..<10_000 { state = state &* 6_364_136_223_846_793_005 &+ 1 }
        }
        let spent = ProcessCPUTime.now() - before
        XCTAssertNotEqual(state, 0)
        XCTAssertGreaterThan(spent.user, 0.1, "\(spent)")
        XCTAssertGreaterThanOrEqual(spent.system, 0)
        XCTAssertGreaterThanOrEqual(spent.user + spent.system, 0.15, "\(spent)")
    }

    /// Workers are processes of their own: their CPU times add up, while the wall time of the
    /// whole is the slowest worker's.
    func testWorkersCPUTimesAddUpAndTheirWallTimeIsTheSlowests() {
        var first = Filter.Report(), second = Filter.Report()
        first.filterSeconds = 2
        first.filterCPU = ProcessCPUTime(user: 1.5, system: 0.25)
        first.deliveryCPU = ProcessCPUTime(user: 0.5, system: 0.5)
        second.filterSeconds = 3
        second.filterCPU = ProcessCPUTime(user: 2, system: 0.5)
        second.deliveryCPU = ProcessCPUTime(user: 0.25, system: 1)
        first.delivery = Outbox.DeliveryReport(sent: 3, deferred: 1, failed: 0)
        second.delivery = Outbox.DeliveryReport(sent: 4, deferred: 0, failed: 2)

        let total = Filter.Report.combined([first, second])

        XCTAssertEqual(total.filterSeconds, 3)
        XCTAssertEqual(total.filterCPU, ProcessCPUTime(user: 3.5, system: 0.75))
        XCTAssertEqual(total.deliveryCPU, ProcessCPUTime(user: 0.75, system: 1.5))
        XCTAssertEqual(total.delivery, Outbox.DeliveryReport(sent: 7, deferred: 1, failed: 2), "the workers' deliveries add up")
    }
}
