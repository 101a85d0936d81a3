import Postgres
import Testing

@Suite struct LocalDateTests {
    @Test func dayNumbersRoundTrip() {
        for n in stride(from: -80_000, to: 80_000, by: 37) {
            #expect(LocalDate(dayNumber: n).dayNumber == n)
        }
        #expect(LocalDate(year: 1970, month: 1, day: 1)!.dayNumber == 0)
        #expect(LocalDate(iso: "2024-02-29")!.adding(days: 365).description == "2025-02-28")
    }

    @Test(arguments: ["2023-02-29", "2024-13-01", "24-01-01", "2024-1-01", "2024-01-00", "abcd-01-01"])
    func rejectsBadDates(text: String) {
        #expect(LocalDate(iso: text) == nil)
    }

    @Test func completedYears() {
        let dob = LocalDate(year: 2000, month: 6, day: 1)!
        #expect(dob.completedYears(at: LocalDate(year: 2018, month: 5, day: 31)!) == 17)
        #expect(dob.completedYears(at: LocalDate(year: 2018, month: 6, day: 1)!) == 18)
    }
}
