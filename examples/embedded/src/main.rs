//! Fetches an X.509-SVID on a Cortex-M4F (STM32F407) with `svid_core::embedded`: the
//! Workload API byte stream runs over USART1 (bridged to the agent's Unix socket on the host
//! side, e.g. `socat /dev/ttyUSB0,raw UNIX-CONNECT:/tmp/agent.sock`), time comes from SysTick,
//! and the heap is a 48 KiB `embedded-alloc` arena. The SVID's SPIFFE ID is printed on USART2.
#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use embedded_alloc::LlffHeap as Heap;
use embedded_io::{ErrorKind, ErrorType, Read, Write};
use panic_halt as _;
use svid_core::embedded::{fetch_x509_svid, small_heap_config};
use svid_core::x509::{RenderOptions, render};

#[global_allocator]
static HEAP: Heap = Heap::empty();
const HEAP_SIZE: usize = 48 * 1024;

/// Milliseconds since boot, counted by SysTick.
static MILLIS: AtomicU32 = AtomicU32::new(0);
/// The core clock after reset (HSI).
const CORE_HZ: u32 = 16_000_000;

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

fn now_ms() -> u64 {
    u64::from(MILLIS.load(Ordering::Relaxed))
}

/// A USART of the STM32F4 (RM0090 §30.6), polled; clocks and pins are set up by the board.
struct Usart {
    base: usize,
}

const SR: usize = 0x00;
const DR: usize = 0x04;
const RXNE: u32 = 1 << 5;
const TXE: u32 = 1 << 7;
/// A read waits this long for a first byte, then reports `TimedOut` so the driver can check
/// its deadline.
const READ_TIMEOUT_MS: u64 = 50;

impl Usart {
    fn status(&self) -> u32 {
        // SAFETY: `base` is a USART register block; SR is readable at any time.
        unsafe { read_volatile((self.base + SR) as *const u32) }
    }
}

impl ErrorType for Usart {
    type Error = ErrorKind;
}

impl Read for Usart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let start = now_ms();
        while self.status() & RXNE == 0 {
            if now_ms() - start > READ_TIMEOUT_MS {
                return Err(ErrorKind::TimedOut);
            }
        }
        let mut n = 0;
        while n < buf.len() && self.status() & RXNE != 0 {
            // SAFETY: reading DR when RXNE is set returns the received byte.
            buf[n] = unsafe { read_volatile((self.base + DR) as *const u32) } as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl Write for Usart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        for &byte in buf {
            while self.status() & TXE == 0 {}
            // SAFETY: writing DR when TXE is set queues one byte.
            unsafe { write_volatile((self.base + DR) as *mut u32, u32::from(byte)) };
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before any allocation; `#[entry]` makes HEAP_MEM a unique &mut.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_SIZE) };

    let mut core = cortex_m::Peripherals::take().unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(CORE_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    let mut agent = Usart { base: 0x4001_1000 };
    let mut console = Usart { base: 0x4000_4400 };
    let mut clock = now_ms;
    let mut buf = [0u8; 256];
    loop {
        let deadline = now_ms() + 30_000;
        let result = fetch_x509_svid(
            &mut agent,
            &mut clock,
            deadline,
            small_heap_config(),
            &mut buf,
        );
        let _ = match result.map(|r| render(&r, &RenderOptions::default(), 0)) {
            Ok(Ok(rendered)) => console
                .write_all(b"svid ")
                .and_then(|()| console.write_all(rendered.spiffe_id.as_bytes()))
                .and_then(|()| console.write_all(b"\n")),
            Ok(Err(_)) => console.write_all(b"invalid svid\n"),
            Err(_) => console.write_all(b"fetch failed\n"),
        };
        // Fetch again in a minute (a watch would keep the stream open instead).
        let wake = now_ms() + 60_000;
        while now_ms() < wake {
            cortex_m::asm::wfi();
        }
    }
}
