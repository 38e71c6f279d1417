//! Subnormal floats (below 1.2e-38 in f32) cost about a hundred cycles per operation on x86.
//! Adam's first moment decays by 0.9 a step wherever a gradient is zero (dead ReLUs), so after
//! a few hundred steps much of it is subnormal and the optimizer ran 5x slower. Training and
//! inference therefore flush subnormals to zero (the FTZ and DAZ bits of MXCSR), as TensorFlow
//! does: only values below 1.2e-38 change. Elsewhere (other architectures) this is a no-op.

/// Flushes subnormals on the current thread until dropped, then restores the previous mode.
pub struct FlushSubnormals {
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    saved: u32,
}

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

impl FlushSubnormals {
    pub fn on_this_thread() -> Self {
        let saved = read();
        write(saved | flush_bits());
        FlushSubnormals { saved }
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        write(self.saved);
    }
}

/// For threads that only ever run training or inference work (a trainer's own pool).
pub fn flush_for_thread_lifetime() {
    write(read() | flush_bits());
}

#[cfg(target_arch = "x86_64")]
fn flush_bits() -> u32 {
    FTZ_DAZ
}
#[cfg(target_arch = "x86_64")]
fn read() -> u32 {
    let mut csr = 0u32;
    // SAFETY: stmxcsr stores the 32-bit control register into `csr`; SSE is baseline on x86_64.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    csr
}
#[cfg(target_arch = "x86_64")]
fn write(csr: u32) {
    // SAFETY: ldmxcsr loads a value read from MXCSR with only the FTZ/DAZ bits changed.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags)) };
}

#[cfg(not(target_arch = "x86_64"))]
fn flush_bits() -> u32 {
    0
}
#[cfg(not(target_arch = "x86_64"))]
fn read() -> u32 {
    0
}
#[cfg(not(target_arch = "x86_64"))]
fn write(_: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn halve(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(0.5)
    }

    #[test]
    fn subnormals_flush_inside_the_guard_only() {
        let tiny = f32::MIN_POSITIVE; // smallest normal: half of it is subnormal
        assert!(halve(tiny) > 0.0);
        {
            let _flush = FlushSubnormals::on_this_thread();
            if cfg!(target_arch = "x86_64") {
                assert_eq!(halve(tiny), 0.0);
            }
        }
        assert!(halve(tiny) > 0.0, "the previous mode is restored");
    }
}
