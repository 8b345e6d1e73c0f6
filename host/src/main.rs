fn main() -> std::process::ExitCode {
    s3plug::frontend::cli::main()
}
