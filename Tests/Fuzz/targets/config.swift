// libFuzzer target: the YAML configuration loader (GatewayConfiguration.parse), with Yams and libyaml.
// Built by scripts/fuzz.sh together with Sources/GatewayConfig/*.swift and the Yams checkout. The config
// file is written by an administrator, but `consolegate check-config` and the daemon must reject any
// malformed file with an error, never a crash or a hang.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let configuration = try GatewayConfiguration.parse(yaml: text)
        _ = String(describing: configuration)
    } catch let error as ConfigError {
        _ = String(describing: error)
    } catch {
        fatalError("parse(yaml:) threw something other than ConfigError: \(error)")
    }
    return 0
}
