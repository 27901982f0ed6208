import Foundation

/// Excel stores a date as a number (days since 1900, or 1904) and shows it as a date only
/// through the cell's number format. This tells which formats are dates and writes the number
/// as an ISO 8601 date, time or both, as a CSV of dates should read.
enum DateFormat {
    /// Built-in format ids that show a date (ECMA-376 Part 1, §18.8.30, and the East Asian ids
    /// Excel assigns to its localised date formats).
    static let builtInDates: Set<Int> = Set([14, 15, 16, 17, 22]).union(27...36).union(50...58)
    /// Built-in format ids that show a time of day or a duration only.
    static let builtInTimes: Set<Int> = Set(18...21).union(45...47)

    /// `true` when format `id` (with `code` for a custom one) shows a date, `false` when it shows
    /// only a time, `nil` when it is not a date format at all.
    static func kind(id: Int, code: String?) -> Bool? {
        if builtInDates.contains(id) { return true }
        if builtInTimes.contains(id) { return false }
        guard let code else { return nil }
        // Literal text ("…", \x, _x, *x) and bracketed parts ([Red], [$-409]) name no field;
        // only the first section (positive numbers) matters.
        var letters = ""
        var characters = code.makeIterator()
        while let character = characters.next() {
            switch character {
            case "\"": while let next = characters.next(), next != "\"" {}
            case "\\", "_", "*": _ = characters.next()
            case "[":
                var inside = ""
                while let next = characters.next(), next != "]" { inside.append(next) }
                let lowered = inside.lowercased()
                if ["h", "hh", "m", "mm", "s", "ss"].contains(lowered) { letters += "h" }
            case ";": return classify(letters)
            default: letters.append(Character(character.lowercased()))
            }
        }
        return classify(letters)
    }

    private static func classify(_ letters: String) -> Bool? {
        if letters.contains("y") || letters.contains("d") { return true }
        if letters.contains("h") || letters.contains("s") { return false }
        return nil
    }

    /// `serial` as `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm:ss` (a date with a time of day) or `HH:mm:ss`
    /// (`dateShown` false); `nil` for what no calendar has (a negative serial, Excel's 29
    /// February 1900).
    static func iso(serial: Double, dateShown: Bool, date1904: Bool) -> String? {
        guard serial.isFinite, serial >= 0, serial < 3_000_000 else { return nil }
        var days = Int(serial.rounded(.down))
        var seconds = Int(((serial - Double(days)) * 86_400).rounded())
        if seconds >= 86_400 { days += 1; seconds -= 86_400 }
        let time = String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
        guard dateShown else { return time }
        // Days since 1970-01-01 of serial 0: 1899-12-30 (Excel counts 1900 as a leap year, so
        // serials before 1 March 1900 start a day later), or 1904-01-01.
        let epoch: Int
        if date1904 {
            epoch = -24_107
        } else if days == 60 {
            return nil
        } else {
            epoch = days < 60 ? -25_568 : -25_569
        }
        let (year, month, day) = civil(daysSince1970: epoch + days)
        let date = String(format: "%04d-%02d-%02d", year, month, day)
        return seconds == 0 ? date : date + "T" + time
    }

    /// The proleptic Gregorian date of a day count (Howard Hinnant's `civil_from_days`).
    static func civil(daysSince1970 count: Int) -> (year: Int, month: Int, day: Int) {
        let z = count + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
